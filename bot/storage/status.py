"""Statuses as enums, each with one transition table and one way to change it.

Messages:
    in:   received -> processed
          received -> pending (Rasa or the action server unreachable) -> processed
    out:  REST, in the HTTP answer:  sent
          REST, fetched later:       queued -> delivered
          push (Telegram, WhatsApp): queued -> sending -> sent -> delivered -> read
                                     sending -> queued (a temporary failure, with backoff)
                                     sending -> failed (given up; last_error says why)
                                     sending -> held -> queued (the channel's window was
                                       closed; released when she writes again)
                                     sent | delivered -> failed (the platform's report)

Referral cases (bot/referrals): see CASE below.

Every status write goes through `Machine.move` (one row) or `Machine.transition` (a
conditional UPDATE, which also claims rows atomically across processes); both refuse a move
the table does not list. New rows are created in a machine's start states.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import Update, update


class IllegalTransition(ValueError):
    pass


E = TypeVar("E", bound=StrEnum)


class Machine(Generic[E]):
    def __init__(self, name: str, states: type[E], table: Mapping[E, frozenset[E]]):
        missing = set(states) - set(table)
        if missing:
            raise ValueError(f"{name}: no row for {sorted(missing)}")
        self.name, self.states, self.table = name, states, table

    def allowed(self, old: str, new: E) -> bool:
        return new in self.table[self.states(old)]

    def check(self, old: str, new: E) -> None:
        if not self.allowed(old, new):
            raise IllegalTransition(f"{self.name} status {old} -> {new} is not allowed")

    def move(self, row: Any, new: E) -> None:
        """Sets one row's status, refusing an illegal move (the caller commits)."""
        self.check(row.status, new)
        row.status = new

    def transition(self, model: Any, old: E, new: E) -> Update:
        """UPDATE model SET status=new WHERE status=old; add .where()/.values() to narrow."""
        self.check(old, new)
        return update(model).where(model.status == old).values(status=new)


class MessageStatus(StrEnum):
    RECEIVED = "received"
    PENDING = "pending"
    PROCESSED = "processed"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    HELD = "held"


_M = MessageStatus
NEXT: dict[MessageStatus, frozenset[MessageStatus]] = {
    _M.RECEIVED: frozenset({_M.PROCESSED, _M.PENDING}),
    _M.PENDING: frozenset({_M.PROCESSED}),
    _M.PROCESSED: frozenset(),
    _M.QUEUED: frozenset({_M.SENDING, _M.DELIVERED}),
    _M.SENDING: frozenset({_M.SENT, _M.QUEUED, _M.FAILED, _M.HELD}),
    _M.SENT: frozenset({_M.DELIVERED, _M.READ, _M.FAILED}),
    _M.DELIVERED: frozenset({_M.READ, _M.FAILED}),
    _M.READ: frozenset(),
    _M.FAILED: frozenset(),
    _M.HELD: frozenset({_M.QUEUED}),
}
MESSAGE = Machine("message", MessageStatus, NEXT)
# How far a delivery report has come: a late "delivered" never overwrites "read".
PROGRESS = {_M.SENT: 1, _M.DELIVERED: 2, _M.READ: 3}

# the message machine's verbs, for the modules that use only it
move, transition = MESSAGE.move, MESSAGE.transition


class CaseStatus(StrEnum):
    WAITING = "waiting"  # in the queue
    ASSIGNED = "assigned"  # a counsellor claimed it (the bot is silent)
    ACTIVE = "active"  # she has written to her
    RESOLVED = "resolved"
    ABANDONED = "abandoned"  # she could not be reached
    EXPIRED = "expired"  # nobody took it in time, and she did not agree to wait


_C = CaseStatus
_CLOSED: frozenset[CaseStatus] = frozenset()
CASE = Machine(
    "case",
    CaseStatus,
    {
        # waiting -> waiting: transferred to another language's queue
        _C.WAITING: frozenset({_C.WAITING, _C.ASSIGNED, _C.RESOLVED, _C.ABANDONED, _C.EXPIRED}),
        # held -> assigned: transferred to a colleague; -> waiting: released or timed out
        _C.ASSIGNED: frozenset({_C.ASSIGNED, _C.ACTIVE, _C.WAITING, _C.RESOLVED, _C.ABANDONED}),
        _C.ACTIVE: frozenset({_C.ACTIVE, _C.ASSIGNED, _C.WAITING, _C.RESOLVED, _C.ABANDONED}),
        _C.RESOLVED: _CLOSED,
        _C.ABANDONED: _CLOSED,
        _C.EXPIRED: _CLOSED,
    },
)
