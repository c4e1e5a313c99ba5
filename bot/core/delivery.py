"""The delivery worker: sends queued outbound messages on push channels, and never drops one.

    queued -> sending -> sent (-> delivered -> read, from WhatsApp's status callbacks)
           -> queued again with backoff after a temporary failure (network, 5xx, 429)
           -> failed after a permanent error or `delivery_max_attempts` tries (last_error)
           -> held while WhatsApp's 24-hour window is closed (sent when she writes again)

One woman's messages go out in order: a message waiting for its retry holds back the ones
after it. Different women are served concurrently, under each platform's rate limits
(`RateLimit`). A row is claimed by a conditional UPDATE, so two gateway processes sharing a
database never send the same message twice; a row left `sending` by a crash goes back to
`queued` on start (at-least-once: the platform may then show it twice, never zero times).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from bot.models import Contact, Message, utcnow
from bot.outbox import buttons_of, reveal_address
from bot.settings import Settings

log = logging.getLogger(__name__)
WHATSAPP_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Outgoing:
    message_id: int
    text: str
    buttons: list[dict]
    language: str


class SendError(Exception):
    def __init__(self, reason: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.retryable, self.retry_after = reason, retryable, retry_after


class Sender(Protocol):
    channel: str
    rate: "RateLimit"

    async def send(self, address: str, out: Outgoing) -> str:
        """Sends; returns the platform's message id; raises SendError."""

    async def send_template(self, address: str, language: str) -> str: ...

    async def close(self) -> None: ...


class RateLimit:
    """Token buckets: one for the whole channel, one per recipient. `wait` sleeps until both
    have a token. Defaults follow the platforms' published guidance (Telegram: about 30
    messages a second overall, about one a second per chat with short bursts; WhatsApp Cloud
    API: 80 a second per business number)."""

    def __init__(self, per_second: float, per_chat_per_second: float, chat_burst: int,
                 clock=time.monotonic):
        self.per_second, self.per_chat, self.burst = per_second, per_chat_per_second, chat_burst
        self.clock = clock
        self._global = [float(max(1, int(per_second))), clock()]
        self._chats: dict[str, list[float]] = defaultdict(lambda: [float(chat_burst), clock()])
        self._lock = asyncio.Lock()

    @staticmethod
    def _take(bucket: list[float], rate: float, capacity: float, now: float) -> float:
        bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if bucket[0] >= 1:
            return 0.0
        return (1 - bucket[0]) / rate

    async def wait(self, chat: str) -> None:
        while True:
            async with self._lock:
                now = self.clock()
                g, c = self._global, self._chats[chat]
                delay = max(self._take(g, self.per_second, max(1, int(self.per_second)), now),
                            self._take(c, self.per_chat, self.burst, now))
                if delay == 0:
                    g[0] -= 1
                    c[0] -= 1
                    return
            await asyncio.sleep(delay)


def split_text(text: str, limit: int) -> list[str]:
    """Cuts a long answer into parts under `limit` characters, at paragraph or sentence ends
    where possible (Latin, Arabic, Urdu and Ethiopic full stops), else at a space."""
    text = text.strip()
    if len(text) <= limit:
        return [text]
    pieces = re.split(r"(?<=[.!?؟۔።])\s+|\n{2,}", text)
    parts: list[str] = []
    current = ""
    for piece in pieces:
        while len(piece) > limit:  # one sentence longer than a whole message
            cut = piece.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                parts.append(current)
                current = ""
            parts.append(piece[:cut].rstrip())
            piece = piece[cut:].lstrip()
        joined = f"{current} {piece}".strip() if current else piece
        if len(joined) <= limit:
            current = joined
        else:
            parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return [p for p in parts if p]


def backoff_s(attempts: int, base: float = 2.0) -> float:
    return min(base * 2.0 ** (attempts - 1), 300.0)


class Delivery:
    def __init__(self, settings: Settings, sessions: sessionmaker, senders: dict[str, Sender]):
        self.settings, self.sessions, self.senders = settings, sessions, senders
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy: dict[int, asyncio.Task] = {}   # contact id -> her sending task
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
        self.recover()
        while True:
            try:
                self.dispatch()
            except Exception:  # keep going; rows stay queued and are tried again
                log.exception("delivery pass failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=idle_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    def recover(self) -> None:
        with self.sessions() as db:
            db.execute(update(Message).where(Message.status == "sending")
                       .values(status="queued"))
            db.commit()

    async def close(self) -> None:
        for task in list(self._busy.values()):
            task.cancel()
        for sender in self.senders.values():
            await sender.close()

    def dispatch(self) -> int:
        """Starts one sending task for each woman with queued messages and none running.
        Returns how many started. A task sends her messages one after another and looks
        again when done, so what is queued meanwhile follows at once."""
        if not self.senders:
            return 0
        with self.sessions() as db:
            contacts = db.scalars(
                select(Message.contact_id).join(Contact)
                .where(Message.direction == "out", Message.status == "queued",
                       Contact.channel.in_(list(self.senders)))
                .group_by(Message.contact_id).order_by(func.min(Message.id))
                .limit(1000)).all()
        started = 0
        for contact_id in contacts:
            if contact_id in self._busy:
                continue
            task = asyncio.create_task(self._deliver_to(contact_id))
            self._busy[contact_id] = task
            task.add_done_callback(lambda _t, c=contact_id: self._busy.pop(c, None))
            started += 1
        return started

    async def _deliver_to(self, contact_id: int) -> None:
        while True:
            with self.sessions() as db:
                items = db.execute(select(Message.id, Message.next_attempt_at).where(
                    Message.contact_id == contact_id, Message.direction == "out",
                    Message.status == "queued").order_by(Message.id)).all()
            if not items:
                return
            for message_id, due in items:
                if due is not None and _aware(due) > utcnow():
                    return  # an earlier message waits for its retry: keep her order
                outcome = await self._deliver_one(message_id)
                if outcome in ("queued", "skipped"):
                    return  # to be retried later, or another worker has it
                # sent, failed for good, or held: go on with her next message

    async def _deliver_one(self, message_id: int) -> str:
        with self.sessions() as db:
            claimed = db.execute(update(Message).where(Message.id == message_id,
                                                       Message.status == "queued")
                                 .values(status="sending")).rowcount
            db.commit()
            if not claimed:
                return "skipped"
            message = db.get(Message, message_id)
            contact = message.contact
            sender = self.senders[contact.channel]
            address = reveal_address(contact, self.settings.hash_key)
            if address is None:
                return self._finish(db, message, "failed", error="no delivery address")
            if contact.channel == "whatsapp" and utcnow() - _aware(contact.last_seen_at) > WHATSAPP_WINDOW:
                return await self._hold(db, message, contact, sender, address)
            out = Outgoing(message.id, message.text, buttons_of(message),
                           message.language or contact.language or "en")
            attempts = message.attempts + 1
        try:
            await sender.rate.wait(address)  # pacing per chat holds no sending slot
            async with self._concurrency:
                external_id = await sender.send(address, out)
        except SendError as exc:
            with self.sessions() as db:
                message = db.get(Message, message_id)
                if message is None:  # she erased her data meanwhile
                    return "failed"
                message.attempts = attempts
                message.last_error = exc.reason[:500]
                if not exc.retryable or attempts >= self.settings.delivery_max_attempts:
                    log.warning("message %s failed for good: %s", message_id, exc.reason)
                    return self._finish(db, message, "failed")
                delay = exc.retry_after if exc.retry_after is not None else \
                    backoff_s(attempts, self.settings.delivery_backoff_s)
                message.next_attempt_at = utcnow() + timedelta(seconds=delay)
                return self._finish(db, message, "queued")
        with self.sessions() as db:
            message = db.get(Message, message_id)
            if message is None:
                return "sent"
            message.attempts, message.sent_at, message.last_error = attempts, utcnow(), None
            message.external_id = external_id
            return self._finish(db, message, "sent")

    async def _hold(self, db, message: Message, contact: Contact, sender: Sender,
                    address: str) -> str:
        """WhatsApp allows free-form messages only within 24 hours of her last message. The
        reply is held (the workspace shows it) and goes out when she writes again; with a
        template configured, one approved template first tells her a reply is waiting."""
        if self.settings.whatsapp_template:
            told = db.scalar(select(Message.id).where(
                Message.contact_id == contact.id, Message.kind == "template",
                Message.created_at >= contact.last_seen_at))
            if told is None:
                db.commit()  # hold no connection across the await
                try:
                    external_id = await sender.send_template(
                        address, contact.language or self.settings.whatsapp_template_language)
                    db.add(Message(contact_id=contact.id, direction="out", kind="template",
                                   text=f"(template {self.settings.whatsapp_template})",
                                   status="sent", external_id=external_id, sent_at=utcnow(),
                                   attempts=1))
                except SendError as exc:
                    message.last_error = f"template: {exc.reason}"[:500]
        return self._finish(db, message, "held")

    @staticmethod
    def _finish(db, message: Message, status: str, error: str | None = None) -> str:
        message.status = status
        if error:
            message.last_error = error
        db.commit()
        return status


STATUS_ORDER = {"sent": 1, "delivered": 2, "read": 3}


async def send_unstored(sender: Sender, address: str, replies, language: str) -> None:
    """The database is down, so nothing can be queued: the safe reply goes straight out,
    once, without retries (the platform redelivers her message, which is answered then)."""
    for reply in replies:
        try:
            await sender.send(address, Outgoing(0, reply.text, [], language))
        except SendError as exc:
            log.warning("direct send failed: %s", exc.reason)


def record_status(db, external_id: str, status: str, error: str | None = None) -> bool:
    """A platform's delivery report (WhatsApp statuses). Never moves a message backwards:
    callbacks arrive out of order. Returns whether a message was found."""
    message = db.scalar(select(Message).where(Message.direction == "out",
                                              Message.external_id == external_id))
    if message is None:
        return False
    if status == "failed":
        message.status, message.last_error = "failed", (error or "failed")[:500]
    elif STATUS_ORDER.get(status, 0) > STATUS_ORDER.get(message.status, 0):
        message.status = status
    return True


def release_held(db, contact: Contact) -> int:
    """She wrote again: WhatsApp's window is open, so what was held goes out now."""
    return db.execute(update(Message).where(Message.contact_id == contact.id,
                                            Message.status == "held")
                      .values(status="queued", next_attempt_at=None)).rowcount


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
