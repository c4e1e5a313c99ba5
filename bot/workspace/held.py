"""While a counsellor holds her case the bot is silent (bot/core/pipeline.py). This module
makes that silence bearable for her and visible to the counsellor:

- `send_notices`, run by the workspace's background chores: once her first message in a held
  stretch has waited `held_notice_after_s` without a counsellor's answer, she gets one short
  "your counsellor has your message" in her language (utter_held_notice), and nothing more
  until the counsellor writes to her.
- `mark`: which messages in her transcript she sent while a counsellor held the case
  (bot.referrals.models.CaseHold, written by bot/referrals/queue.py), and which of those no
  counsellor answered after, for the transcript and the resolve form.

May touch: the case holds (read), her messages (read; the notice only through bot.core.outbox).
Texts are never compared in SQL (they are encrypted at rest): only ids, kinds and times.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import outbox
from bot.referrals.models import HELD_STATUSES, Case, CaseHold
from bot.storage.models import Message
from common import texts
from common.clock import aware

log = logging.getLogger(__name__)
NOTICE_KIND = "held_notice"
NOTICE_RESPONSE = "utter_held_notice"


def _max_id(db: Session, contact_id: int, *where) -> int:
    return (
        db.scalar(select(func.max(Message.id)).where(Message.contact_id == contact_id, *where)) or 0
    )


def notice_due(db: Session, case: Case, hold: CaseHold, after_s: float, now: datetime) -> bool:
    """Her first message since the counsellor last wrote (inside this hold) has waited
    `after_s`, and no notice has gone out since that message."""
    answered_up_to = _max_id(
        db, case.contact_id, Message.direction == "out", Message.kind == "counsellor"
    )
    first = db.execute(
        select(Message.id, Message.created_at)
        .where(
            Message.contact_id == case.contact_id,
            Message.direction == "in",
            Message.id > answered_up_to,
            Message.created_at >= aware(hold.started_at),
        )
        .order_by(Message.id)
        .limit(1)
    ).first()
    if first is None:
        return False
    if _max_id(db, case.contact_id, Message.kind == NOTICE_KIND) > first.id:
        return False  # she has been told once in this stretch
    return (now - aware(first.created_at)).total_seconds() >= after_s


def send_notices(db: Session, after_s: float, now: datetime | None = None) -> list[int]:
    """Queues the notice for every held case that is due; returns their case ids. The caller
    commits, then wakes the delivery worker.

    With several gateways each one's chores run this. Each hold's row is locked before its
    notice is judged due (PostgreSQL; SQLite has one writer anyway), in the order of their
    ids, so a second gateway waits for the first one's commit and then finds the notice sent:
    she is told once, not once per gateway (tests/e2e/test_scale_out.py)."""
    now = now or datetime.now(UTC)
    sent = []
    open_holds = db.scalars(
        select(CaseHold.id)
        .join(Case, Case.id == CaseHold.case_id)
        .where(CaseHold.ended_at.is_(None), Case.status.in_(HELD_STATUSES))
        .order_by(CaseHold.id)
    ).all()
    for hold_id in open_holds:
        hold = db.scalar(select(CaseHold).where(CaseHold.id == hold_id).with_for_update())
        if hold is None or hold.ended_at is not None:
            continue  # ended while this gateway waited for the lock
        case = db.get(Case, hold.case_id)
        if case is None or not notice_due(db, case, hold, after_s, now):
            continue
        language = case.contact.language or case.language
        outbox.enqueue(
            db,
            case.contact,
            [outbox.Reply(texts.text(NOTICE_RESPONSE, language), kind=NOTICE_KIND)],
            language=language,
        )
        sent.append(case.id)
    return sent


def mark(db: Session, contact_id: int, transcript: list[dict]) -> list[dict]:
    """Adds `held` (she sent it while a counsellor held one of her cases) and `unanswered`
    (held, and no counsellor wrote to her after it) to each of her messages, in place."""
    spans = [
        (aware(start), aware(end))
        for start, end in db.execute(
            select(CaseHold.started_at, CaseHold.ended_at)
            .join(Case, Case.id == CaseHold.case_id)
            .where(Case.contact_id == contact_id)
        )
    ]
    last_answer = max(
        (m["id"] for m in transcript if m["direction"] == "out" and m["kind"] == "counsellor"),
        default=0,
    )
    for m in transcript:
        held = False
        if m["direction"] == "in" and spans:
            at = datetime.fromisoformat(m["at"])
            held = any(start <= at and (end is None or at < end) for start, end in spans)
        m["held"] = held
        m["unanswered"] = held and m["id"] > last_answer
    return transcript
