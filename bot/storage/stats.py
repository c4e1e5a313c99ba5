"""Counts of what the bot did, for the editors' dashboard (bot/workspace/dashboard.py): one
`reply_stats` row per reply, written by the gateway's pipeline when an action sends
`contracts.Answered`, or when the danger screen gives the emergency numbers.

A row holds the day, her language, the outcome, the entry and its topic: no contact, no
time of day, no text, so that no row can be matched to her messages. Recording never costs
her the answer: a failure is logged and the row left out.

May touch: the `reply_stats` table.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from bot.storage.models import ReplyStat
from common import contracts
from common.clock import utcnow

log = logging.getLogger(__name__)


def record(
    db: Session,
    outcome: str,
    language: str,
    entry_id: str | None = None,
    topic: str | None = None,
) -> None:
    try:
        with db.begin_nested():
            db.add(
                ReplyStat(
                    day=utcnow().date(),
                    language=language,
                    outcome=outcome,
                    entry_id=entry_id,
                    topic=topic,
                )
            )
    except Exception:
        log.exception("could not count a reply (%s)", outcome)


def record_answer(db: Session, directive: contracts.Answered) -> None:
    record(db, directive.outcome, directive.language, directive.entry_id, directive.topic)
