"""Database models (SQLAlchemy 2, typed). Migrations live in migrations/ (Alembic).

Privacy: a contact is found only by a keyed hash of her channel id. The address a push
channel needs to answer her (Telegram chat id, WhatsApp number) is kept encrypted in
`address_enc` (bot/core/outbox.py) and shown to nobody. What she writes and what is answered
are encrypted at rest (`EncryptedText`, bot/storage/crypto.py). `conversation_key` is the
random id Rasa sees; erasing her data deletes the contact with everything that hangs off it,
and so does bot/storage/retention.py once she has been silent for RETENTION_DAYS.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.storage.crypto import EncryptedText
from common.clock import utcnow  # noqa: F401  (models default to it; others import it here)


def new_key() -> str:
    return secrets.token_hex(12)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "user_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    user_hash: Mapped[str] = mapped_column(String(64))
    conversation_key: Mapped[str] = mapped_column(String(32), default=new_key, unique=True)
    language: Mapped[str | None] = mapped_column(String(8))
    language_chosen: Mapped[bool] = mapped_column(default=False)
    region: Mapped[str | None] = mapped_column(String(16))
    address_enc: Mapped[str | None] = mapped_column(Text)  # encrypted; bot/core/outbox.py
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    messages: Mapped[list[Message]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", passive_deletes=True
    )


class Message(Base):
    """Every message in or out. An inbound message with a channel message id is stored once:
    a redelivery finds it and gets the replies already given. An outbound message on a push
    channel is sent by bot/core/delivery.py, which records every attempt on the row."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("contact_id", "external_id"),
        Index("ix_messages_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    external_id: Mapped[str | None] = mapped_column(String(128))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="text")
    # encrypted at rest (bot/storage/crypto.py): not comparable in SQL
    text: Mapped[str] = mapped_column(EncryptedText, default="")
    payload: Mapped[str | None] = mapped_column(EncryptedText)  # buttons etc., JSON
    language: Mapped[str | None] = mapped_column(String(8))
    # a counsellor's message: her display name, for the transcript (None: the bot or her)
    sender: Mapped[str | None] = mapped_column(String(100))
    # a MessageStatus, changed only through bot/storage/status.py (the transition table)
    status: Mapped[str] = mapped_column(String(16), default="received")
    # when the platform wrote the delivery report that set `status` (None: ours, or a report
    # without a time); an earlier-written report arriving later never changes the status
    status_reported_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    # when a delivery worker claimed the row (queued -> sending); a claim older than
    # DELIVERY_CLAIM_TIMEOUT_S belongs to a worker that died, and the row is queued again
    claimed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(EncryptedText)  # a platform may quote her

    contact: Mapped[Contact] = relationship(back_populates="messages")


class Feedback(Base):
    """ "Was this helpful?" answers, anonymous on purpose: no link to her contact."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[str | None] = mapped_column(String(128), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    helpful: Mapped[bool] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReplyStat(Base):
    """One reply of the bot, counted for the editors' dashboard (bot/storage/stats.py): the
    day (not the time), her language, what the bot did and the entry it gave. No contact,
    no text: nothing here leads to her, so nothing is erased with her."""

    __tablename__ = "reply_stats"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    language: Mapped[str] = mapped_column(String(8))
    # answered | both | asked_back | dont_know | region_asked | danger
    outcome: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[str | None] = mapped_column(String(128))
    topic: Mapped[str | None] = mapped_column(String(32))


class UnansweredQuestion(Base):
    """A question the bot could not answer well (bot/storage/unanswered.py), for editors.

    What she wrote is encrypted; her language and the reason are kept plain for grouping.
    `contact_id` exists ONLY so that her data goes with her ("delete my data", retention:
    ON DELETE CASCADE) and into her own data export (bot/workspace/export.py, right of
    access). No editor's page or API shows or follows it."""

    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(16))  # no_answer | clarify | not_helpful
    language: Mapped[str] = mapped_column(String(8), index=True)
    entry_id: Mapped[str | None] = mapped_column(String(128))  # the answer rated / offered
    ref: Mapped[str | None] = mapped_column(String(64), index=True)  # a "No": her words join it
    text: Mapped[str] = mapped_column(EncryptedText, default="")  # "": she wrote nothing
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dismissed_at: Mapped[datetime | None] = mapped_column()  # an editor set the group aside
