"""One path for every incoming message, whatever the channel.

    store (once per channel message id) -> choose language -> screen for danger
    -> Rasa (NLU, dialogue, actions) -> store replies -> return them in order

Guarantees, in this order: a message that signals danger gets the emergency numbers first,
even when Rasa or the action server is down; a message is never lost (kept `pending` while
Rasa is unreachable, answered by the retry worker later); a redelivered message gets the
replies already given instead of being processed twice; one woman's messages are handled one
at a time, in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import safety, texts
from bot.models import Contact, Message, utcnow
from bot.rasa_client import ActionServerProbe, RasaClient, RasaUnavailable
from bot.settings import Settings
from nlu import langid

log = logging.getLogger(__name__)
_CHOOSE_LANGUAGE = re.compile(r'^/choose_language\{"language":\s*"(\w+)"\}$')


@dataclass(frozen=True)
class Inbound:
    channel: str                    # rest | telegram | whatsapp
    user_id: str                    # the channel's id for her; hashed at once, never stored
    text: str = ""
    external_id: str | None = None  # the channel's message id, for idempotency
    kind: str = "text"              # text | voice | image | document | sticker | location | other


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[dict, ...] = ()
    kind: str = "text"              # text | emergency | notice


@dataclass
class Outcome:
    replies: list[Reply]
    language: str
    contact_id: int | None
    duplicate: bool = False
    erased: bool = False
    pending: bool = False
    danger: bool = False


class Pipeline:
    def __init__(self, settings: Settings, sessions: sessionmaker, rasa: RasaClient,
                 actions: ActionServerProbe | None = None):
        self.settings, self.sessions, self.rasa = settings, sessions, rasa
        self.actions = actions or ActionServerProbe(rasa.http, settings.action_server_url)
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def user_hash(self, channel: str, user_id: str) -> str:
        key = self.settings.hash_key.encode()
        return hmac.new(key, f"{channel}:{user_id}".encode(), hashlib.sha256).hexdigest()

    async def handle(self, inbound: Inbound) -> Outcome:
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
        replies = [Reply(texts.text("utter_emergency", language), kind="emergency")] if danger else []
        replies.append(Pipeline._bot_reply("utter_service_down", language))
        return Outcome(replies, language, None, pending=True, danger=danger)

    # -- the steps --------------------------------------------------------------------------
    async def _handle(self, db: Session, inbound: Inbound, uhash: str) -> Outcome:
        contact = db.scalar(select(Contact).where(Contact.channel == inbound.channel,
                                                  Contact.user_hash == uhash))
        if contact is None:
            contact = Contact(channel=inbound.channel, user_hash=uhash)
            db.add(contact)
            db.flush()
        contact.last_seen_at = utcnow()

        if inbound.external_id:
            seen = db.scalar(select(Message).where(Message.contact_id == contact.id,
                                                   Message.external_id == inbound.external_id))
            if seen is not None:
                return Outcome(self._stored_replies(db, seen), seen.language or "en",
                               contact.id, duplicate=True)

        raw = inbound.text or ""
        found = langid.detect(raw)
        unclear = contact.language is None and found.language is None
        language = self._language(contact, raw, found)
        message = Message(contact_id=contact.id, direction="in", external_id=inbound.external_id,
                          kind=inbound.kind, text=raw[: self.settings.max_message_chars],
                          language=language)
        db.add(message)
        db.flush()

        screening = safety.screen(raw)
        replies: list[Reply] = []
        if screening.danger:
            replies.append(Reply(texts.text("utter_emergency", language), kind="emergency"))

        outcome = Outcome(replies, language, contact.id, danger=screening.danger)
        if inbound.kind != "text":
            replies.append(self._bot_reply("utter_unsupported_media", language))
        elif not raw.strip():
            replies.append(self._bot_reply("utter_help", language))
        elif unclear and not raw.startswith("/") and not screening.danger:
            contact.language = None  # still unknown: ask, in every language at once
            replies.append(self._bot_reply("utter_ask_language", None))
        else:
            await self._ask_rasa(db, contact, message, raw, screening, outcome)

        if outcome.erased:
            db.commit()
            return outcome
        message.status = "pending" if outcome.pending else "processed"
        self._store_replies(db, contact, message, replies)
        db.commit()
        return outcome

    async def retry_pending(self, deliver=None) -> int:
        """Answers messages kept while Rasa was unreachable, oldest first; stops at the first
        that still fails. `deliver(contact, replies)` sends them on her channel, where the
        channel can push (REST cannot: its replies stay stored for the transcript)."""
        with self.sessions() as db:
            pending = db.execute(select(Message.id, Contact.user_hash).join(Contact)
                                 .where(Message.direction == "in", Message.status == "pending")
                                 .order_by(Message.id)).all()
        done = 0
        for message_id, uhash in pending:
            async with self._locks[uhash]:
                with self.sessions() as db:
                    message = db.get(Message, message_id)
                    if message is None or message.status != "pending":
                        continue
                    contact = message.contact
                    outcome = Outcome([], message.language or "en", contact.id)
                    await self._ask_rasa(db, contact, message, message.text,
                                         safety.screen(message.text), outcome)
                    if outcome.pending:
                        return done
                    if not outcome.erased:
                        message.status = "processed"
                        self._store_replies(db, contact, message, outcome.replies)
                    db.commit()
                    if deliver and not outcome.erased:
                        await deliver(contact, outcome.replies)
                    done += 1
        return done

    def _language(self, contact: Contact, text: str, found: langid.Detection) -> str:
        chosen = _CHOOSE_LANGUAGE.match(text.strip())
        if chosen and chosen.group(1) in langid.SUPPORTED:
            contact.language, contact.language_chosen = chosen.group(1), True
        elif not contact.language_chosen:
            contact.language = langid.choose(text, contact.language, found)
        return contact.language or "en"

    async def _ask_rasa(self, db: Session, contact: Contact, message: Message, raw: str,
                        screening: safety.Screening, outcome: Outcome) -> None:
        text = raw[: self.settings.max_message_chars]
        metadata = {"language": outcome.language, "channel": contact.channel}
        if screening.danger:
            metadata["screening"] = "danger"
        try:
            answers, actions_alive = await asyncio.gather(
                self.rasa.send(contact.conversation_key, text, metadata), self.actions.alive())
            if not actions_alive:  # Rasa answered only what it had without its actions
                raise RasaUnavailable("action server down")
            if any((a.get("custom") or {}).get("error") for a in answers):
                raise RasaUnavailable("an action failed")  # bot/actions/safe.py
        except RasaUnavailable as exc:
            log.warning("rasa unavailable, message %s kept pending: %s", message.id, exc)
            outcome.pending = True
            outcome.replies.append(self._bot_reply("utter_service_down", outcome.language))
            return

        already = {r.text for r in outcome.replies}
        for answer in answers:
            custom = answer.get("custom") or {}
            if custom.get("erase"):
                await self._erase(db, contact)
                outcome.erased = True
            if custom.get("set_language") in langid.SUPPORTED:
                contact.language, contact.language_chosen = custom["set_language"], True
            body = answer.get("text") or ""
            if not body or body in already:  # the emergency text is given once, first
                continue
            already.add(body)
            outcome.replies.append(Reply(body, tuple(answer.get("buttons") or ())))
        if len(raw) > self.settings.max_message_chars:
            outcome.replies.append(self._bot_reply("utter_message_too_long", outcome.language))

    async def _erase(self, db: Session, contact: Contact) -> None:
        """Her conversation and everything known about her, here and in Rasa's tracker."""
        try:
            await self.rasa.replace_events(contact.conversation_key)
        except Exception:  # Rasa's copy is in memory only and expires with the session
            log.warning("could not clear Rasa's tracker for an erased contact")
        db.delete(contact)
        db.flush()

    @staticmethod
    def _bot_reply(name: str, language: str) -> Reply:
        r = texts.response(name, language)
        return Reply(r["text"], tuple(r.get("buttons") or ()), kind="notice")

    @staticmethod
    def _store_replies(db: Session, contact: Contact, message: Message,
                       replies: list[Reply]) -> None:
        for r in replies:
            db.add(Message(contact_id=contact.id, direction="out", reply_to_id=message.id,
                           kind=r.kind, text=r.text, language=message.language,
                           payload=json.dumps(list(r.buttons)) if r.buttons else None,
                           status="created"))

    @staticmethod
    def _stored_replies(db: Session, message: Message) -> list[Reply]:
        rows = db.scalars(select(Message).where(Message.reply_to_id == message.id)
                          .order_by(Message.id))
        return [Reply(m.text, tuple(json.loads(m.payload)) if m.payload else (), kind=m.kind)
                for m in rows]
