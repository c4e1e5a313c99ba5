"""Referral queue and workspace tables, on bot.storage.models.Base so one metadata and one Alembic
chain hold everything (migration 0003).

Privacy: a case points at her pseudonymous Contact and is deleted with it (ON DELETE
CASCADE), so "delete my conversation" also removes her cases and the counsellors' notes on
them. The audit log keeps only who did what to which case number, never anything about her.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.storage.crypto import EncryptedText
from bot.storage.models import Base, Contact, utcnow
from bot.storage.status import CaseStatus
from common.vocab import HANDOFF_TOPICS

# Sortable priorities: the queue is served highest first, then oldest.
NORMAL, HIGH, EMERGENCY = 0, 1, 2
PRIORITIES = {"normal": NORMAL, "high": HIGH, "emergency": EMERGENCY}
PRIORITY_NAMES = {v: k for k, v in PRIORITIES.items()}

TOPICS = HANDOFF_TOPICS
OPEN_STATUSES = (CaseStatus.WAITING, CaseStatus.ASSIGNED, CaseStatus.ACTIVE)
HELD_STATUSES = (CaseStatus.ASSIGNED, CaseStatus.ACTIVE)  # a counsellor holds it: the bot is silent
CLOSED_STATUSES = (CaseStatus.RESOLVED, CaseStatus.ABANDONED, CaseStatus.EXPIRED)
STATUSES = OPEN_STATUSES + CLOSED_STATUSES
OUTCOMES = ("referred", "resolved_here", "no_contact")
ROLES = ("counsellor", "editor", "admin")


class User(Base):
    """A workspace account: a counsellor, a content editor or an admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="counsellor")
    languages: Mapped[str] = mapped_column(String(200), default="")  # "ar,en"
    topics: Mapped[str] = mapped_column(String(200), default="")  # "" = every topic
    is_woman: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    ui_language: Mapped[str] = mapped_column(String(8), default="en")  # the workspace's
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()

    @property
    def language_list(self) -> list[str]:
        return [x for x in self.languages.split(",") if x]

    @property
    def topic_list(self) -> list[str]:
        return [x for x in self.topics.split(",") if x]

    @property
    def name(self) -> str:
        return self.display_name or self.username


class Case(Base):
    """One handoff: her request for a person, from waiting in the queue to resolved."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_queue", "status", "language", "priority", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(8))  # hers: the bot's notices use it
    # the language counsellors write to her in, when a transfer to another language's queue
    # set it (she reads it too); None: her own. The queue routes by `routing_language`.
    write_in: Mapped[str | None] = mapped_column(String(8))
    topic: Mapped[str] = mapped_column(String(20), default="other")
    priority: Mapped[int] = mapped_column(Integer, default=NORMAL)
    woman_counsellor: Mapped[bool | None] = mapped_column(Boolean)
    contact_later: Mapped[bool] = mapped_column(default=False)
    show_identifier: Mapped[bool] = mapped_column(default=False)  # her recorded consent
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    assigned_to: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    waiting_since: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column()
    first_reply_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column()
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(20))
    referred_service: Mapped[str | None] = mapped_column(String(200))

    contact: Mapped[Contact] = relationship()
    counsellor: Mapped[User | None] = relationship()

    @property
    def routing_language(self) -> str:
        """The language a counsellor must write in to take this case."""
        return self.write_in or self.language

    notes: Mapped[list[CaseNote]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="CaseNote.id"
    )

    @property
    def priority_name(self) -> str:
        return PRIORITY_NAMES.get(self.priority, "normal")


class CaseNote(Base):
    """Internal note between counsellors. Never sent to her."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(EncryptedText)  # encrypted at rest
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User | None] = relationship()


class UserSession(Base):
    """A browser login. Only a hash of the cookie's token is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A bearer token for an NGO's own tool; acts as its user. Only a hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship()


class AuditLog(Base):
    """Who did what, to which case, when. case_id is a plain number on purpose: the entry
    outlives the case when she erases her data, and says nothing about her."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class OpeningHours(Base):
    """When counsellors answer. One row per opening period; weekday 0 = Monday."""

    __tablename__ = "opening_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(Integer)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(40), default="Europe/Copenhagen")


class CannedReply(Base):
    """A ready text a counsellor can put in the reply box, in her language: shared (managed
    by editors and admins) or a counsellor's own (`owner_id`). The starters a fresh install
    gets (migration 0015) are not `reviewed` until an editor says so."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(String(8), index=True)
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(EncryptedText)  # encrypted at rest
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    reviewed: Mapped[bool] = mapped_column(default=True)  # False: machine-translated starter


class LoginFailure(Base):
    """A failed workspace login, in the database so every gateway process sees the same lock
    (bot/workspace/lockout.py counts them per username, per client address and per pair).
    Only keyed hashes of the username and the address are kept, and only for the lock window."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_key: Mapped[str] = mapped_column(String(64), index=True)
    address_key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CaseHold(Base):
    """One stretch in which a counsellor held a case, so the bot was silent: from a claim or
    a transfer to her, until release, transfer or resolve (bot/referrals/queue.py writes
    them). Her messages inside one were sent while held (bot/workspace/held.py). Migration 0008."""

    __tablename__ = "case_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
