"""Referral queue: cases for a human handoff, routing, atomic claims, opening hours.

The gateway uses create_case, holding_case and flag_danger (see .helper-notes/contracts.md);
the counsellor workspace (bot/workspace) uses the rest. Functions take a Session and never
commit.
"""

from bot.referrals.hours import next_opening, open_now, opening_text
from bot.referrals.models import (
    EMERGENCY,
    HIGH,
    NORMAL,
    OPEN_STATUSES,
    OUTCOMES,
    TOPICS,
    Case,
    CaseNote,
    User,
)
from bot.referrals.queue import (
    CaseCreated,
    QueueError,
    claim,
    claim_next,
    create_case,
    escalate_overdue,
    expire_stale,
    flag_danger,
    holding_case,
    may_take,
    offered,
    open_case,
    queue_position,
    record_reply,
    release,
    release_all_held_by,
    release_stale_claims,
    resolve,
    transfer,
    waiting_ahead,
)

__all__ = [
    "Case",
    "CaseCreated",
    "CaseNote",
    "EMERGENCY",
    "HIGH",
    "NORMAL",
    "OPEN_STATUSES",
    "OUTCOMES",
    "QueueError",
    "TOPICS",
    "User",
    "claim",
    "claim_next",
    "create_case",
    "escalate_overdue",
    "expire_stale",
    "flag_danger",
    "holding_case",
    "may_take",
    "next_opening",
    "offered",
    "open_case",
    "open_now",
    "opening_text",
    "queue_position",
    "record_reply",
    "release",
    "release_all_held_by",
    "release_stale_claims",
    "resolve",
    "transfer",
    "waiting_ahead",
]
