"""One path for every incoming message, whatever the channel.

    store (once per channel message id) -> choose language -> screen for danger
    -> Rasa (NLU, dialogue, actions) -> store replies -> return them in order

Guarantees, in this order: a message that signals danger gets the emergency numbers first,
even when Rasa or the action server is down; a message is never lost (kept `pending` while
Rasa is unreachable, answered by the retry worker later); a redelivered message gets the
replies already given instead of being processed twice; one woman's messages are handled one
at a time, in order. While a counsellor holds her case the bot is silent: her messages are
only stored, for the counsellor's transcript (bot/referrals), except that danger still gets
the emergency numbers at once.

Replies are stored through bot/core/outbox.py: the REST channel returns them in its HTTP answer,
push channels (Telegram, WhatsApp) get them from the delivery worker (bot/core/delivery.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from sqlalchemy import func, inspect, or_, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import Update

from bot import referrals
from bot.core import metrics, outbox, safety
from bot.core.channel import Outgoing
from bot.core.delivery import release_held
from bot.core.outbox import PUSH_CHANNELS, Reply
from bot.core.rasa_client import ActionServerProbe, RasaClient, RasaUnavailable
from bot.settings import Settings
from bot.storage import stats, unanswered
from bot.storage.models import Contact, Feedback, Message, utcnow
from bot.storage.status import MessageStatus, move
from common import contracts, texts
from langtools import langid, query_vector

log = logging.getLogger(__name__)
STUCK = timedelta(minutes=2)  # a message still `received` this long after arrival was
# interrupted (a crash mid-processing): answer it again
_CHOOSE_LANGUAGE = re.compile(r'^/choose_language\{"language":\s*"(\w+)"\}$')
_BUTTON_NUMBER = re.compile(r"[0-9]{1,18}\Z")  # a pressed button's message id and index
REQUEST_HUMAN = "/request_human"  # the counsellor buttons' payload (domain.yml)
SERVICE_DOWN = "service_down"  # the kind of the reply that says her message is kept
PRIVACY = "/privacy"  # the command that shows the privacy notice again
RETRY_GIVE_UP_AFTER = 3  # failures in a row in one retry round: Rasa is down, try later
# How long a disclosure's processing waits for its emergency numbers to be sent before the
# model and Rasa read it: they would otherwise take the machine's cores while they go out
EARLY_SEND_WAIT_S = 0.5


@dataclass(frozen=True)
class Inbound:
    channel: str  # rest | telegram | whatsapp
    user_id: str  # the channel's id for her; hashed at once, never stored
    text: str = ""
    external_id: str | None = None  # the channel's message id, for idempotency
    kind: str = "text"  # text | voice | image | document | sticker | location | other
    address: str | None = None  # where a push channel answers her; stored encrypted
    language_hint: str | None = None  # e.g. Telegram's language_code: only a default


@dataclass
class Outcome:
    replies: list[Reply]
    language: str
    contact_id: int | None
    duplicate: bool = False
    erased: bool = False
    pending: bool = False  # stored, not answered yet (Rasa unreachable): retried later
    stored: bool = True  # False: the database failed; nothing was kept, the platform must
    #                      deliver her message again (the safe reply went out directly)
    danger: bool = False
    silent: bool = False  # a counsellor holds her case: the bot said nothing
    queued_early: int = 0  # the first replies, queued before Rasa was asked (danger, push)
    # of those, the ones stored claimed, for the pipeline to send itself: (channel, address,
    # what to send); None where her address was not in the message (the worker sends them)
    claimed: tuple[str, str, list[Outgoing]] | None = None
    first: bool = False  # her first message: her contact was created with it


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker,
        rasa: RasaClient,
        actions: ActionServerProbe | None = None,
        on_queued=None,
        send_now=None,
        send_claimed=None,
    ):
        self.settings, self.sessions, self.rasa = settings, sessions, rasa
        self.actions = actions or ActionServerProbe(rasa.http, settings.action_server_url)
        self.on_queued = on_queued or (lambda: None)  # wakes the delivery worker
        # starts sending one woman's queued replies at once; returns the sending task
        self.send_now = send_now or (lambda _contact_id: None)
        # sends replies stored claimed (Delivery.send_claimed); returns the sending task.
        # None: nothing is stored claimed, the delivery worker sends everything
        self.send_claimed = send_claimed
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def user_hash(self, channel: str, user_id: str) -> str:
        key = self.settings.hash_key.encode()
        return hmac.new(key, f"{channel}:{user_id}".encode(), hashlib.sha256).hexdigest()

    async def handle(self, inbound: Inbound) -> Outcome:
        start = time.perf_counter()
        outcome = await self._handle_in_order(inbound)
        metrics.MESSAGES.labels(inbound.channel, metrics.outcome_of(outcome)).inc()
        metrics.ANSWER_SECONDS.labels(inbound.channel).observe(time.perf_counter() - start)
        return outcome

    async def _handle_in_order(self, inbound: Inbound) -> Outcome:
        uhash = self.user_hash(inbound.channel, inbound.user_id)
        async with self._locks[uhash]:
            try:
                with self.sessions() as db:
                    return await self._handle(db, inbound, uhash)
            except Exception:
                log.exception("message handling failed; answering without storage")
                return self.without_storage(inbound)

    @staticmethod
    def without_storage(inbound: Inbound) -> Outcome:
        """The reply when the database (or anything before Rasa) fails: emergency numbers
        first if the message signals danger, and the honest "technical problem" text, in her
        language as far as it can be told from this message alone."""
        language = langid.choose(inbound.text or "", None)
        danger = safety.screen(inbound.text or "").danger
        replies = emergency_replies(language) if danger else []
        # a push platform delivers her message again (the webhook answers 5xx): it is kept
        # there; a REST client does not, so she is asked to send it again
        kept = inbound.channel in PUSH_CHANNELS
        replies.append(
            Pipeline._bot_reply("utter_service_down" if kept else "utter_not_saved", language)
        )
        return Outcome(replies, language, None, danger=danger, stored=False)

    # -- the steps --------------------------------------------------------------------------
    async def _handle(self, db: Session, inbound: Inbound, uhash: str) -> Outcome:
        contact = db.scalar(
            select(Contact).where(Contact.channel == inbound.channel, Contact.user_hash == uhash)
        )
        new = contact is None  # her first message: nothing of hers is held or stored yet
        if contact is None:
            contact = Contact(channel=inbound.channel, user_hash=uhash)
            db.add(contact)
            db.flush()
        contact.last_seen_at = utcnow()
        if inbound.address and contact.channel in PUSH_CHANNELS:
            self._remember_address(contact, inbound.address)
        if not new:
            release_held(db, contact)  # she wrote: a channel's closed window is open again

        if inbound.external_id and not new:
            seen = db.scalar(
                select(Message).where(
                    Message.contact_id == contact.id, Message.external_id == inbound.external_id
                )
            )
            if seen is not None:
                return Outcome(
                    self._stored_replies(db, seen),
                    seen.language or "en",
                    contact.id,
                    duplicate=True,
                )

        raw = inbound.text or ""
        # an intent payload from a button or command says nothing about her language
        found = (
            langid.detect(raw) if not raw.startswith("/") else langid.Detection(None, 0.0, False)
        )
        unclear = contact.language is None and found.language is None
        if unclear and inbound.language_hint in langid.SUPPORTED and raw != "/greet":
            contact.language, unclear = inbound.language_hint, False
        language = self._language(contact, raw, found)
        message = Message(
            contact_id=contact.id,
            direction="in",
            external_id=inbound.external_id,
            kind=inbound.kind,
            text=raw[: self.settings.max_message_chars],
            language=language,
        )
        db.add(message)
        # The patterns first (well under a millisecond): while the model cannot take a
        # pattern's match back (safety.patterns_final), a disclosure they catch gets its
        # emergency numbers queued in the same commit as her message, before the model
        # encodes it and before Rasa is asked.
        replies: list[Reply] = []
        outcome = Outcome(replies, language, contact.id, first=new)
        patterns = safety.screen_patterns(raw)
        if safety.patterns_final() and patterns.danger:
            self._meet_danger(db, contact, message, outcome, inbound.address)
        # Stored before anything can fail, and no transaction stays open while Rasa thinks:
        # with SQLite, a write lock held across an await would stall every other coroutine.
        db.commit()
        if outcome.queued_early:
            await self._send_early(contact.id, outcome)

        # in a thread: the model takes milliseconds, but no woman's message may stall another's
        screening = await asyncio.to_thread(safety.screen, raw, True, patterns)
        if screening.danger and not outcome.danger:  # what only the model saw
            self._meet_danger(db, contact, message, outcome, inbound.address)
            db.commit()
            if outcome.queued_early:
                await self._send_early(contact.id, outcome)
        if outcome.danger:  # counted after the numbers went out, committed with the rest
            stats.record(db, "danger", language)
        if referrals.holding_case(db, contact.id) is not None:
            outcome.silent = True  # the counsellor answers; she sees this in her transcript
        elif self._too_fast(db, contact):
            # kept for the transcript, not answered; danger above was answered all the same.
            # She is told once a minute.
            if not _sent_since(db, contact, "slow_down", timedelta(minutes=1)):
                replies.append(self._bot_reply("utter_slow_down", language, kind="slow_down"))
        elif raw.strip() == PRIVACY:
            replies.append(self._privacy_notice(language))
        elif inbound.kind != "text":
            replies.append(self._bot_reply("utter_unsupported_media", language))
        elif not raw.strip():
            replies.append(self._bot_reply("utter_help", language))
        elif unclear and (raw == "/greet" or not raw.startswith("/")) and not screening.danger:
            contact.language = None  # still unknown: ask, in every language at once
            replies.append(self._bot_reply("utter_ask_language", None))
        elif (
            not screening.danger
            and raw.strip() != REQUEST_HUMAN
            and _behind_a_kept_message(db, contact, message)
        ):
            # an earlier message of hers is kept for Rasa (an outage, at this gateway or
            # another): this one waits behind it, and the retry answers both in her order.
            # Danger and "a person" never wait. She is told again that it is saved: on REST
            # always (an empty answer looks broken), in a chat at most once a minute.
            outcome.pending = True
            if contact.channel not in PUSH_CHANNELS or not _sent_since(
                db, contact, SERVICE_DOWN, timedelta(minutes=1)
            ):
                replies.append(self._bot_reply("utter_service_down", language, kind=SERVICE_DOWN))
        else:
            await self._ask_rasa(db, contact, message, raw, screening, outcome)

        if outcome.erased:
            db.commit()
            return outcome
        if self.settings.privacy_notice and self._privacy_notice_due(db, contact, outcome, replies):
            replies.append(self._privacy_notice(language))
        move(message, MessageStatus.PENDING if outcome.pending else MessageStatus.PROCESSED)
        self._store_replies(db, contact, message, replies[outcome.queued_early :], in_band=True)
        db.commit()
        if contact.channel in PUSH_CHANNELS:
            self.on_queued()
        return outcome

    def _meet_danger(
        self,
        db: Session,
        contact: Contact,
        message: Message,
        outcome: Outcome,
        address: str | None,
    ):
        """The emergency numbers first, and her case (if any) raised to emergency. On a push
        channel they are stored at once, so that neither the model nor a slow or hung Rasa (up
        to its timeout) holds them back: claimed for this pipeline to send itself where her
        message brought her address, else queued for the worker. REST answers in one HTTP
        reply, so there they wait for the rest of it. The caller commits."""
        outcome.danger = True
        outcome.replies[:0] = emergency_replies(outcome.language)
        referrals.flag_danger(db, contact.id)
        if contact.channel in PUSH_CHANNELS:
            if message.id is None:
                db.flush()  # the replies point at her message
            if address is not None and self.send_claimed is not None:
                rows = outbox.enqueue(db, contact, outcome.replies, reply_to=message, claimed=True)
                sends = [Outgoing(r.id, r.text, [], outcome.language) for r in rows]
                outcome.claimed = (contact.channel, address, sends)
            else:
                rows = outbox.enqueue(db, contact, outcome.replies, reply_to=message)
            outcome.queued_early = len(rows)

    async def _send_early(self, contact_id: int, outcome: Outcome) -> None:
        """Sends the emergency numbers just stored, and waits (a little) until they are out."""
        if outcome.claimed is not None and self.send_claimed is not None:
            sending = self.send_claimed(contact_id, *outcome.claimed)
            outcome.claimed = None
        else:
            self.on_queued()
            sending = self.send_now(contact_id)
        if sending is None:  # this worker cannot send them now: queued for the one that can
            self.on_queued()
            return
        try:
            await asyncio.wait_for(asyncio.shield(sending), EARLY_SEND_WAIT_S)
        except TimeoutError:
            pass  # a slow platform: they go on in the background, and so does her message
        except Exception:  # the delivery worker logs its own failures; rows stay queued
            log.debug("early send failed", exc_info=True)

    async def retry_pending(self) -> int:
        """Answers messages kept while Rasa was unreachable, oldest first; stops at the first
        that still fails. On push channels the answers go out through the delivery worker;
        on REST they stay stored for the transcript (REST cannot push)."""
        with self.sessions() as db:
            pending = db.execute(
                select(Message.id, Contact.user_hash)
                .join(Contact)
                .where(
                    Message.direction == "in",
                    (Message.status == MessageStatus.PENDING)
                    | (
                        (Message.status == MessageStatus.RECEIVED)
                        & (Message.created_at < utcnow() - STUCK)
                    ),
                )
                .order_by(Message.id)
            ).all()
        done, failed_in_a_row = 0, 0
        behind: set[str] = set()  # women with an older message still unanswered: keep order
        for message_id, uhash in pending:
            if uhash in behind:
                continue
            async with self._locks[uhash]:
                with self.sessions() as db:
                    if not _claim_for_retry(db, message_id):
                        # answered meanwhile, or another gateway's retry has it now: hers
                        # after it wait for the next round
                        behind.add(uhash)
                        continue
                    message = db.get(Message, message_id)
                    contact = message.contact
                    outcome = Outcome([], message.language or "en", contact.id)
                    await self._ask_rasa(
                        db,
                        contact,
                        message,
                        message.text,
                        safety.screen(message.text, share=True),
                        outcome,
                    )
                    if outcome.pending:
                        # hers wait behind it; other women's messages are still tried, unless
                        # Rasa is plainly down (several failures in a row): then next round
                        message.claimed_at = None  # any gateway may try again next round
                        db.commit()
                        behind.add(uhash)
                        failed_in_a_row += 1
                        if failed_in_a_row >= RETRY_GIVE_UP_AFTER:
                            return done
                        continue
                    failed_in_a_row = 0
                    if not outcome.erased:
                        move(message, MessageStatus.PROCESSED)
                        self._store_replies(db, contact, message, outcome.replies)
                    db.commit()
                    self.on_queued()
                    done += 1
        return done

    def fetch_waiting(self, channel: str, user_id: str) -> list[Reply]:
        """Messages for her that no HTTP answer carried (a counsellor's reply, an answer
        given after an outage), oldest first, marked delivered: for REST clients, which
        cannot be pushed to."""
        uhash = self.user_hash(channel, user_id)
        with self.sessions() as db:
            rows = db.scalars(
                select(Message)
                .join(Contact)
                .where(
                    Contact.channel == channel,
                    Contact.user_hash == uhash,
                    Message.direction == "out",
                    Message.status == MessageStatus.QUEUED,
                )
                .order_by(Message.id)
            ).all()
            for row in rows:
                move(row, MessageStatus.DELIVERED)
                row.sent_at = utcnow()
            db.commit()
        return [Reply(m.text, tuple(outbox.buttons_of(m)), kind=m.kind) for m in rows]

    def button_payload(self, channel: str, user_id: str, data: str) -> str | None:
        """A pressed button's payload. Buttons on push channels carry only `b:<message>:<n>`
        (Telegram allows 64 bytes); the payload is read from the stored message, and only if
        that message was sent to this same woman."""
        parts = data.split(":")
        if len(parts) != 3 or parts[0] != "b" or not all(map(_BUTTON_NUMBER.match, parts[1:])):
            return None  # forged; an id of 19 digits or more would not fit a database integer
        uhash = self.user_hash(channel, user_id)
        with self.sessions() as db:
            message = db.scalar(
                select(Message)
                .join(Contact)
                .where(
                    Message.id == int(parts[1]),
                    Message.direction == "out",
                    Contact.channel == channel,
                    Contact.user_hash == uhash,
                )
            )
            buttons = outbox.buttons_of(message) if message is not None else []
        index = int(parts[2])
        return buttons[index].get("payload") if index < len(buttons) else None

    # -- rate limit and the privacy notice ----------------------------------------------------
    def _too_fast(self, db: Session, contact: Contact) -> bool:
        """More messages from her in the last minute than the limit allows (counted in the
        database, so every gateway process sees the same count). Danger is screened before."""
        limit = self.settings.rate_limit_per_minute
        if limit <= 0:
            return False
        recent = db.scalar(
            select(func.count(Message.id)).where(
                Message.contact_id == contact.id,
                Message.direction == "in",
                Message.created_at >= utcnow() - timedelta(minutes=1),
            )
        )
        return (recent or 0) > limit

    @staticmethod
    def _warned_recently(db: Session, contact: Contact) -> bool:
        """Whether she was given the emergency numbers within the last hour."""
        return _sent_since(db, contact, "emergency", timedelta(hours=1))

    def _privacy_notice(self, language: str) -> Reply:
        days = str(self.settings.retention_days)
        return Reply(texts.text("utter_privacy_notice", language, days=days), kind="privacy")

    @staticmethod
    def _privacy_notice_due(
        db: Session, contact: Contact, outcome: Outcome, replies: list[Reply]
    ) -> bool:
        """Once, at the end of her first reply in a language she reads (never instead of an
        answer, never while the bot asks which language she reads, never while held)."""
        if outcome.silent or not replies or contact.language is None:
            return False
        if any(r.kind == "privacy" for r in replies):
            return False
        return not _sent_since(db, contact, "privacy", None)

    def _remember_address(self, contact: Contact, address: str) -> None:
        if outbox.reveal_address(contact, self.settings.hash_key) != address:
            contact.address_enc = outbox.seal_address(address, self.settings.hash_key)

    def _language(self, contact: Contact, text: str, found: langid.Detection) -> str:
        chosen = _CHOOSE_LANGUAGE.match(text.strip())
        if chosen and chosen.group(1) in langid.SUPPORTED:
            contact.language, contact.language_chosen = chosen.group(1), True
        elif not contact.language_chosen:
            contact.language = langid.choose(text, contact.language, found)
        return contact.language or "en"

    async def _ask_rasa(
        self,
        db: Session,
        contact: Contact,
        message: Message,
        raw: str,
        screening: safety.Screening,
        outcome: Outcome,
    ) -> None:
        text = raw[: self.settings.max_message_chars]
        metadata: dict[str, object] = {"language": outcome.language, "channel": contact.channel}
        if screening.danger:
            metadata["screening"] = "danger"
            metadata["danger_kind"] = screening.kind  # "acute": a shelter answer, not menus
        elif screening.judged:
            metadata["screening"] = "calm"  # both layers read it: Rasa's danger intent defers
        if screening.vector is not None:  # Rasa and the action server need not encode it again
            metadata[query_vector.KEY] = query_vector.pack(raw, screening.vector)
        # No connection is held while Rasa thinks: the pool is small and a blocked checkout
        # would stall the whole event loop. Objects stay usable (expire_on_commit=False).
        db.commit()
        try:
            answers = await self.rasa.send(contact.conversation_key, text, metadata)
            if not await self.actions.alive(since=time.monotonic()):
                # Rasa answered only what it had without its actions
                raise RasaUnavailable("action server down")
            directives = [_directive(a) for a in answers]
            if any(isinstance(d, contracts.ActionFailed) for d in directives):
                raise RasaUnavailable("an action failed")  # actions/safe.py
        except RasaUnavailable as exc:
            if raw.strip() == REQUEST_HUMAN:
                # She pressed "a person": that needs no Rasa. Her case opens now, and she is
                # told plainly whether anyone is there (utter_handoff_nobody when nobody is).
                log.warning("rasa unavailable; her request for a person goes straight to the queue")
                urgent = outcome.danger or self._warned_recently(db, contact)
                request = contracts.Handoff(
                    topic="violence" if urgent else "other",
                    language=outcome.language,
                    priority="emergency" if urgent else "normal",
                )
                outcome.replies.append(self._refer(db, contact, request, outcome))
                return
            log.warning("rasa unavailable, message %s kept pending: %s", message.id, exc)
            outcome.pending = True
            down = self._bot_reply("utter_service_down", outcome.language, kind=SERVICE_DOWN)
            outcome.replies.append(down)
            if outcome.danger:  # a person may still help while the bot cannot
                outcome.replies.append(self._bot_reply("utter_offer_counsellor", outcome.language))
            return

        # the emergency text is given once, first: also when this is a kept message answered
        # later, whose emergency replies went out when it came (retry_pending)
        already = {r.text for r in outcome.replies}
        given = [r for r in self._stored_replies(db, message) if r.kind == "emergency"]
        if given or any(r.kind == "emergency" for r in outcome.replies):
            # Rasa's own danger rule says the same in two messages (data/rules/handoff.yml)
            already |= {texts.text(name, outcome.language) for name in EMERGENCY_PARTS}
        for answer, directive in zip(answers, directives, strict=True):
            match directive:
                case contracts.Erase():
                    await self._erase(db, contact)
                    outcome.erased = True
                case contracts.SetLanguage(language=chosen):
                    contact.language, contact.language_chosen = chosen, True
                case contracts.Feedback(entry_id=entry_id, helpful=helpful):
                    db.add(Feedback(entry_id=entry_id, language=outcome.language, helpful=helpful))
                case contracts.Unanswered() if not outcome.danger:  # no disclosure for editors
                    unanswered.record(db, contact.id, directive, text)
                case contracts.Answered():
                    stats.record_answer(db, directive)
                case contracts.Handoff():
                    outcome.replies.append(self._refer(db, contact, directive, outcome))
            body = answer.get("text") or ""
            if not body or body in already:  # the emergency text is given once, first
                continue
            already.add(body)
            outcome.replies.append(Reply(body, tuple(answer.get("buttons") or ())))
        if not answers:  # Rasa had nothing to say (e.g. a payload no rule expects): not an outage
            log.info("rasa answered nothing; she gets the default reply")
            outcome.replies.append(self._bot_reply("utter_default", outcome.language))
        if len(raw) > self.settings.max_message_chars:
            outcome.replies.append(self._bot_reply("utter_message_too_long", outcome.language))

    def _refer(
        self, db: Session, contact: Contact, request: contracts.Handoff, outcome: Outcome
    ) -> Reply:
        """Creates her referral case and tells her honestly what happens next: how many are
        waiting before her, or when the service opens."""
        language = outcome.language
        priority = "emergency" if outcome.danger else request.priority
        try:
            with db.begin_nested():
                case = referrals.create_case(
                    db,
                    contact,
                    topic=request.topic,
                    language=language,
                    priority=priority,
                    woman_counsellor=request.woman_counsellor,
                    contact_later=request.contact_later,
                )
        except Exception:
            log.exception("could not create a referral case")
            return self._bot_reply("utter_handoff_unavailable", language)
        if not case.created:
            return self._bot_reply("utter_handoff_already", language)
        if case.open_now and case.counsellors_online == 0:  # open, but nobody logged in
            return self._bot_reply("utter_handoff_nobody", language)
        if case.open_now:
            text = texts.text("utter_handoff_queued", language)
            return Reply(_fill(text, waiting=case.waiting_ahead), kind="notice")
        opens = referrals.opening_text(case.opens_at, language)
        return Reply(
            _fill(texts.text("utter_handoff_closed", language), opens=opens), kind="notice"
        )

    async def _erase(self, db: Session, contact: Contact) -> None:
        """Her conversation and everything known about her, here and in Rasa's tracker."""
        db.commit()  # as above: nothing held across the await
        try:
            await self.rasa.replace_events(contact.conversation_key)
        except Exception:  # Rasa is down: its stored copy goes below all the same
            log.warning("could not clear Rasa's tracker for an erased contact")
        # Rasa keeps its trackers in this database (nlu/tracker_store.py): her row goes in the
        # same transaction as her contact, whether or not Rasa answered.
        if inspect(db.connection()).has_table("rasa_trackers"):
            db.execute(
                sql_text("delete from rasa_trackers where sender_id = :key"),
                {"key": contact.conversation_key},
            )
        db.delete(contact)
        db.flush()

    @staticmethod
    def _bot_reply(name: str, language: str | None, kind: str = "notice") -> Reply:
        r = texts.response(name, language)
        return Reply(r["text"], tuple(r.get("buttons") or ()), kind=kind)

    @staticmethod
    def _store_replies(
        db: Session, contact: Contact, message: Message, replies: list[Reply], in_band: bool = False
    ) -> None:
        outbox.enqueue(db, contact, replies, reply_to=message, in_band=in_band)

    @staticmethod
    def _stored_replies(db: Session, message: Message) -> list[Reply]:
        rows = db.scalars(
            select(Message).where(Message.reply_to_id == message.id).order_by(Message.id)
        )
        return [
            Reply(m.text, tuple(json.loads(m.payload)) if m.payload else (), kind=m.kind)
            for m in rows
        ]


def _behind_a_kept_message(db: Session, contact: Contact, message: Message) -> bool:
    """Whether an earlier message of hers is still kept for Rasa (`pending`)."""
    earlier = select(Message.id).where(
        Message.contact_id == contact.id,
        Message.direction == "in",
        Message.status == MessageStatus.PENDING,
        Message.id < message.id,
    )
    return db.scalar(earlier.limit(1)) is not None


def _claim_for_retry(db: Session, message_id: int) -> bool:
    """Takes a kept message for this retry, once across gateways: a conditional UPDATE of its
    claim time, so two gateways' retry rounds never both answer it. A claim older than STUCK
    was left by a gateway that died mid-retry."""
    claim: Update = (
        update(Message)
        .where(
            Message.id == message_id,
            Message.status.in_([MessageStatus.PENDING, MessageStatus.RECEIVED]),
            or_(Message.claimed_at.is_(None), Message.claimed_at < utcnow() - STUCK),
        )
        .values(claimed_at=utcnow())
    )
    claimed = cast(CursorResult, db.execute(claim)).rowcount
    db.commit()
    return claimed == 1


EMERGENCY_PARTS = ("utter_danger_heard", "utter_emergency")


def emergency_replies(language: str | None) -> list[Reply]:
    """What a message that signals danger gets first, before anything else and whatever
    fails after: one message, the calm sentence that she is heard and then 112 and 1888. One,
    so that the numbers come with the first words she reads (a notification shows one
    message) and go out in one platform call, not two."""
    text = "\n\n".join(texts.text(name, language) for name in EMERGENCY_PARTS)
    return [Reply(text, kind="emergency")]


def _sent_since(db: Session, contact: Contact, kind: str, within: timedelta | None) -> bool:
    query = select(Message.id).where(
        Message.contact_id == contact.id, Message.direction == "out", Message.kind == kind
    )
    if within is not None:
        query = query.where(Message.created_at >= utcnow() - within)
    return db.scalar(query.limit(1)) is not None


def _directive(answer: dict) -> contracts.Directive | None:
    """The directive an action sent with this answer; one that breaks the contract is a bug
    in an action, so it counts as that action failing (her message is kept and retried)."""
    try:
        return contracts.from_custom(answer.get("custom"))
    except contracts.MalformedDirective as exc:
        log.error("an action broke the contract: %s", exc)
        return contracts.ActionFailed(action="(malformed directive)")


def _fill(template: str, **values) -> str:
    """str.format that leaves an unknown placeholder as it is instead of failing."""

    class Keep(dict):
        def __missing__(self, key):
            return "{" + key + "}"

    try:
        return template.format_map(Keep(values))
    except (ValueError, IndexError):
        return template
