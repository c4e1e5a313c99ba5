"""The delivery worker: sends queued outbound messages on push channels, and never drops one.

    queued -> sending -> sent (-> delivered -> read, from WhatsApp's status callbacks)
           -> queued again with backoff after a temporary failure (network, 5xx, 429)
           -> failed after a permanent error or `delivery_max_attempts` tries (last_error)
           -> held while the channel allows no free-form message (WhatsApp's 24-hour
              window): queued again when she writes (bot/storage/status.py has the table)

One woman's messages go out in order: a message waiting for its retry holds back the ones
after it. Different women are served concurrently, under each platform's rate limits
(bot/core/pacing.py). A row is claimed by a conditional UPDATE, so two gateway processes sharing a
database never send the same message twice. The claim records its time: a row still `sending`
DELIVERY_CLAIM_TIMEOUT_S after its claim was left by a worker that died mid-send, and goes
back to `queued` (at start and every few seconds, by whichever gateway looks first). A newer
claim is another gateway's send in flight and is left alone. So it is at-least-once: the
platform may show a message twice after a crash, never zero times.

The emergency numbers skip the claim: the pipeline stores them already `sending`, with her
message, and sends them itself (`send_claimed`), so they go out without two more round trips
to the database. From the send on they are like any other row: a failed send is retried by
this worker, and a gateway that dies mid-send leaves a claim that times out.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import sessionmaker

from bot.core import metrics
from bot.core.channel import Channel, Outgoing, SendError
from bot.core.outbox import buttons_of, reveal_address
from bot.core.pacing import backoff_s
from bot.settings import Settings
from bot.storage.models import Contact, Message, utcnow
from bot.storage.status import NEXT, PROGRESS, MessageStatus, move, transition
from common.clock import aware

log = logging.getLogger(__name__)
S = MessageStatus


class Delivery:
    def __init__(self, settings: Settings, sessions: sessionmaker, channels: dict[str, Channel]):
        self.settings, self.sessions, self.channels = settings, sessions, channels
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy: dict[int, asyncio.Task] = {}  # contact id -> her sending task
        self._claimed: set[asyncio.Task] = set()  # sends of rows stored claimed (send_claimed)
        self._concurrency = asyncio.Semaphore(32)  # HTTP sends in flight

    def wake(self) -> None:
        """Send what was just queued, now. Safe from any thread: the workspace's pages run
        in FastAPI's thread pool, and asyncio.Event is not thread-safe."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not running yet: the first pass picks the rows up
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self, idle_s: float = 1.0) -> None:
        self._loop = asyncio.get_running_loop()
        # a claim times out within a timeout and a half at most
        sweep_every = min(60.0, max(0.5, self.settings.delivery_claim_timeout_s / 2))
        swept = -sweep_every
        while True:
            try:
                if time.monotonic() - swept >= sweep_every:
                    swept = time.monotonic()
                    self.requeue_stale_claims()
                self.dispatch()
            except Exception:  # keep going; rows stay queued and are tried again
                log.exception("delivery pass failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=idle_s)
            except TimeoutError:
                pass
            self._wake.clear()

    def requeue_stale_claims(self) -> int:
        """Queues again the rows whose worker died mid-send; returns how many. A row without
        a claim time was claimed before claims had one (migration 0010): stale too."""
        cutoff = utcnow() - timedelta(seconds=self.settings.delivery_claim_timeout_s)
        stale = or_(Message.claimed_at.is_(None), Message.claimed_at < cutoff)
        with self.sessions() as db:
            n = db.execute(transition(Message, S.SENDING, S.QUEUED).where(stale)).rowcount
            db.commit()
        if n:
            log.warning("%d message(s) left sending by a stopped worker queued again", n)
        return n

    async def close(self) -> None:
        for task in [*self._busy.values(), *self._claimed]:
            task.cancel()
        for channel in self.channels.values():
            await channel.stop()

    def dispatch(self) -> int:
        """Starts one sending task for each woman with queued messages and none running.
        Returns how many started. A task sends her messages one after another and looks
        again when done, so what is queued meanwhile follows at once."""
        if not self.channels:
            return 0
        with self.sessions() as db:
            contacts = db.scalars(
                select(Message.contact_id)
                .join(Contact)
                .where(
                    Message.direction == "out",
                    Message.status == "queued",
                    Contact.channel.in_(list(self.channels)),
                )
                .group_by(Message.contact_id)
                .order_by(func.min(Message.id))
                .limit(1000)
            ).all()
        started = 0
        for contact_id in contacts:
            if contact_id in self._busy:
                continue
            self._start(contact_id)
            started += 1
        return started

    def deliver_now(self, contact_id: int) -> asyncio.Task | None:
        """Starts sending her queued messages at once, without waiting for the next pass
        (the emergency numbers); returns the task sending hers, None where this worker
        sends nothing. Call it from the worker's event loop, after the rows are committed."""
        if not self.channels or self._loop is None:
            return None
        task = self._busy.get(contact_id)
        if task is None or task.done():  # a finished one may not have been let go yet
            task = self._start(contact_id)
        return task

    def _start(self, contact_id: int) -> asyncio.Task:
        task = asyncio.create_task(self._deliver_to(contact_id))
        self._busy[contact_id] = task
        task.add_done_callback(functools.partial(self._done, contact_id))
        return task

    def _done(self, contact_id: int, task: asyncio.Task) -> None:
        if self._busy.get(contact_id) is task:
            self._busy.pop(contact_id)

    async def _deliver_to(self, contact_id: int) -> None:
        while True:
            with self.sessions() as db:
                items = db.execute(
                    select(Message.id, Message.status, Message.next_attempt_at)
                    .where(
                        Message.contact_id == contact_id,
                        Message.direction == "out",
                        Message.status.in_([S.QUEUED, S.SENDING]),
                    )
                    .order_by(Message.id)
                ).all()
            if not items:
                return
            for message_id, status, due in items:
                if status == S.SENDING:
                    # an earlier message is in another worker's hands (a peer gateway, or
                    # one that died mid-send, until its claim times out): keep her order
                    return
                if due is not None and aware(due) > utcnow():
                    return  # an earlier message waits for its retry: keep her order
                outcome = await self._deliver_one(message_id)
                if outcome in (S.QUEUED, "skipped"):
                    return  # to be retried later, or another worker has it
                # sent, failed for good, or held: go on with her next message

    async def _deliver_one(self, message_id: int) -> str:
        with self.sessions() as db:
            claim = transition(Message, S.QUEUED, S.SENDING).values(claimed_at=utcnow())
            claimed = db.execute(claim.where(Message.id == message_id)).rowcount
            db.commit()
            if not claimed:
                return "skipped"
            message = db.get(Message, message_id)
            contact = message.contact
            channel = self.channels[contact.channel]
            address = reveal_address(contact, self.settings.hash_key)
            if address is None:
                return self._finish(db, message, S.FAILED, error="no delivery address")
            if not channel.may_send_now(aware(contact.last_seen_at), utcnow()):
                return await self._hold(db, message, contact, channel, address)
            out = Outgoing(
                message.id,
                message.text,
                buttons_of(message),
                message.language or contact.language or "en",
            )
            attempts = message.attempts + 1
        return await self._send(channel, address, out, attempts)

    def send_claimed(
        self, contact_id: int, channel_name: str, address: str, claimed: list[Outgoing]
    ) -> asyncio.Task | None:
        """Sends rows the caller stored already claimed (`sending`, with their claim time),
        from what it has in hand: the emergency numbers, just stored with her message, go out
        without the claim's and the row's round trips to the database. Her other queued
        messages follow. Returns the sending task; None where this worker cannot send them
        now: then they are queued for whichever worker can."""
        channel = self.channels.get(channel_name)
        if channel is None or self._loop is None:
            self._unclaim([out.message_id for out in claimed])
            return None
        task = asyncio.create_task(self._send_claimed(contact_id, channel, address, claimed))
        self._claimed.add(task)
        task.add_done_callback(self._claimed.discard)
        return task

    async def _send_claimed(
        self, contact_id: int, channel: Channel, address: str, claimed: list[Outgoing]
    ) -> None:
        for i, out in enumerate(claimed):
            status = await self._send(channel, address, out, attempts=1)
            if status == "skipped":
                return  # she erased her data meanwhile
            if status == S.QUEUED:  # to be retried: the rest wait behind it, in her order
                self._unclaim([o.message_id for o in claimed[i + 1 :]])
                return
        self.deliver_now(contact_id)  # what was queued behind them

    def _unclaim(self, message_ids: list[int]) -> None:
        if message_ids:
            with self.sessions() as db:
                unclaim = transition(Message, S.SENDING, S.QUEUED)
                db.execute(unclaim.where(Message.id.in_(message_ids)))
                db.commit()

    async def _send(self, channel: Channel, address: str, out: Outgoing, attempts: int) -> str:
        """Sends one claimed row and records the outcome; returns its new status."""
        message_id = out.message_id
        try:
            await channel.rate.wait(address)  # pacing per chat holds no sending slot
            async with self._concurrency:
                external_id = await channel.send(address, out)
        except SendError as exc:
            with self.sessions() as db:
                message = _still_claimed(db, message_id)
                if message is None:
                    return "skipped"
                message.attempts = attempts
                message.last_error = exc.reason[:500]
                if not exc.retryable or attempts >= self.settings.delivery_max_attempts:
                    log.warning("message %s failed for good: %s", message_id, exc.reason)
                    return self._finish(db, message, S.FAILED)
                delay = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else backoff_s(attempts, self.settings.delivery_backoff_s)
                )
                message.next_attempt_at = utcnow() + timedelta(seconds=delay)
                return self._finish(db, message, S.QUEUED)
        except Exception as exc:  # a bug or a bad address must not leave the row `sending`
            log.exception("message %s: unexpected send error", message_id)
            with self.sessions() as db:
                message = _still_claimed(db, message_id)
                if message is None:
                    return "skipped"
                message.attempts = attempts
                return self._finish(db, message, S.FAILED, error=f"send error: {exc!r}"[:500])
        with self.sessions() as db:
            message = _still_claimed(db, message_id)
            if message is None:
                return "skipped"
            message.attempts, message.sent_at, message.last_error = attempts, utcnow(), None
            message.external_id = external_id
            return self._finish(db, message, S.SENT)

    async def _hold(
        self, db, message: Message, contact: Contact, channel: Channel, address: str
    ) -> str:
        """The channel allows no free-form message now (WhatsApp: 24 hours after her last
        message). The reply is held (the workspace shows it) and goes out when she writes
        again; where the channel has a notice for this, she is told once that a reply waits."""
        told = db.scalar(
            select(Message.id).where(
                Message.contact_id == contact.id,
                Message.kind == "template",
                Message.created_at >= contact.last_seen_at,
            )
        )
        if told is None:
            db.commit()  # hold no connection across the await
            try:
                external_id = await channel.send_waiting_notice(address, contact.language or "")
            except SendError as exc:
                message.last_error = f"waiting notice: {exc.reason}"[:500]
            else:
                if external_id is not None:
                    db.add(
                        Message(
                            contact_id=contact.id,
                            direction="out",
                            kind="template",
                            text="(a reply is waiting: notice sent)",
                            status=S.SENT,
                            external_id=external_id,
                            sent_at=utcnow(),
                            attempts=1,
                        )
                    )
        return self._finish(db, message, S.HELD)

    @staticmethod
    def _finish(db, message: Message, status: MessageStatus, error: str | None = None) -> str:
        move(message, status)
        if error:
            message.last_error = error
        channel = message.contact.channel
        db.commit()
        result = _RESULTS.get(status)
        if result:
            metrics.DELIVERIES.labels(channel, result).inc()
        return status


# the `result` label of bot_deliveries_total (bot/core/metrics.py) for a send's end state
_RESULTS = {S.SENT: "sent", S.QUEUED: "retry", S.FAILED: "failed", S.HELD: "held"}


def _still_claimed(db, message_id: int) -> Message | None:
    """The row after a send, or None where it is no longer this worker's to finish: she erased
    her data meanwhile, or the send outlasted DELIVERY_CLAIM_TIMEOUT_S and the row was queued
    again (it may then reach her twice: the price of never losing one)."""
    message = db.get(Message, message_id)
    if message is not None and message.status == S.SENDING:
        return message
    if message is not None:
        log.warning("message %s: its claim timed out during the send", message_id)
    return None


async def send_unstored(channel: Channel, address: str, replies, language: str) -> None:
    """The database is down, so nothing can be queued: the safe reply goes straight out,
    once, without retries (the platform redelivers her message, which is answered then)."""
    for reply in replies:
        try:
            await channel.send(address, Outgoing(0, reply.text, [], language))
        except SendError as exc:
            log.warning("direct send failed: %s", exc.reason)


def record_status(
    db, external_id: str, status: str, error: str | None = None, at: datetime | None = None
) -> bool:
    """A platform's delivery report, written by the platform `at` (None: it gave no time).
    Never moves a message backwards or out of `failed`: reports arrive out of order. A report
    written before the one that set the status changes nothing, whatever its kind (reports
    written at the same time, or without a time, follow the rules above). Returns whether a
    message was found."""
    message = db.scalar(
        select(Message).where(Message.direction == "out", Message.external_id == external_id)
    )
    if message is None:
        return False
    reported = {"sent": S.SENT, "delivered": S.DELIVERED, "read": S.READ, "failed": S.FAILED}
    new = reported.get(status)
    if new is None or new not in NEXT[MessageStatus(message.status)]:
        return True  # unknown, already there, later, or after failed: nothing to change
    stored = aware(message.status_reported_at)
    if at is not None and stored is not None and aware(at) < stored:
        return True  # written before the report that set the status, delivered late
    if new is S.FAILED:
        message.last_error = (error or "failed")[:500]
    elif PROGRESS[new] <= PROGRESS.get(MessageStatus(message.status), 0):
        return True
    move(message, new)
    message.status_reported_at = at
    return True


def release_held(db, contact: Contact) -> int:
    """She wrote again: the window is open, so what was held goes out now."""
    release = transition(Message, MessageStatus.HELD, MessageStatus.QUEUED)
    return db.execute(
        release.where(Message.contact_id == contact.id).values(next_attempt_at=None)
    ).rowcount
