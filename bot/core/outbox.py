"""What goes out to her, and the one secret needed to reach her.

Every reply is first a stored Message row (direction "out"); on a push channel (Telegram,
WhatsApp) it starts `queued` and bot/core/delivery.py sends it. Anything that wants to write to her
-- the pipeline, a counsellor in the workspace, the retry worker -- calls `enqueue` and then
wakes the delivery worker after committing.

The address a push channel needs (Telegram chat id, WhatsApp number) is encrypted with a key
derived from HASH_KEY and never shown; `reveal_address` exists for the one case where she has
agreed that a counsellor may see it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.orm import Session

from bot.settings import get_settings
from bot.storage.models import Contact, Message, utcnow

PUSH_CHANNELS = frozenset({"telegram", "whatsapp"})


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[dict, ...] = ()
    kind: str = "text"  # text | emergency | notice | counsellor


def _fernet(hash_key: str) -> Fernet:
    key = hashlib.sha256(b"delivery-address:" + hash_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal_address(address: str, hash_key: str | None = None) -> str:
    return _fernet(hash_key or get_settings().hash_key).encrypt(address.encode()).decode()


def reveal_address(contact: Contact, hash_key: str | None = None) -> str | None:
    """Her channel address in clear, or None. Only for delivery, and for a counsellor where
    she consented (bot.referrals checks the consent, not this function)."""
    if not contact.address_enc:
        return None
    try:
        return (
            _fernet(hash_key or get_settings().hash_key)
            .decrypt(contact.address_enc.encode())
            .decode()
        )
    except InvalidToken:  # HASH_KEY rotated: the address is lost, her next message restores it
        return None


def enqueue(
    db: Session,
    contact: Contact,
    replies: list[Reply] | tuple[Reply, ...],
    reply_to: Message | None = None,
    language: str | None = None,
    in_band: bool = False,
    sender: str | None = None,
    claimed: bool = False,
) -> list[Message]:
    """Stores the replies in order; the caller commits, then wakes the delivery worker.
    `in_band`: REST replies returned in the HTTP answer to her message (already `sent`);
    other REST messages (a counsellor's, a late answer) wait `queued` for the client to
    fetch them (GET /webhooks/rest/outbox). `claimed` (push channels): stored `sending`, as
    the delivery worker's claim leaves them, for the caller to send itself
    (Delivery.send_claimed); a claim nobody finishes times out and is queued again."""
    status = "sent" if in_band and contact.channel not in PUSH_CHANNELS else "queued"
    if claimed and contact.channel in PUSH_CHANNELS:
        status = "sending"
    rows = []
    for r in replies:
        row = Message(
            contact_id=contact.id,
            direction="out",
            reply_to_id=reply_to.id if reply_to is not None else None,
            kind=r.kind,
            text=r.text,
            language=language or (reply_to.language if reply_to else contact.language),
            payload=json.dumps(list(r.buttons)) if r.buttons else None,
            status=status,
            sender=sender,
            claimed_at=utcnow() if status == "sending" else None,
        )
        db.add(row)
        rows.append(row)
    db.flush()
    return rows


def buttons_of(message: Message) -> list[dict]:
    return json.loads(message.payload) if message.payload else []
