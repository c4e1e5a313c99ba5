"""What the bot could not answer, kept for editors: one row per question, written by the
gateway's pipeline when an action sends `contracts.Unanswered` (actions/answer.py: "I don't
know" and the ask-back; actions/feedback.py: "Was this helpful? No").

The row holds the text of her message (encrypted), her language, the reason and, for a "No",
the answer she rated. A "No" is a button, so its row starts without words; what she writes
right after it comes with the same `ref` and is added to that row. Her contact is linked only
so that the row is erased with her (ON DELETE CASCADE, and bot/storage/retention.py) and is in
her data export (bot/workspace/export.py).

May touch: the `unanswered_questions` table. Recording never costs her the answer: a failure
is logged (without her text) and the row is left out.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import UnansweredQuestion
from common import contracts

log = logging.getLogger(__name__)


def record(db: Session, contact_id: int, directive: contracts.Unanswered, text: str) -> None:
    """Stores one unanswered question, or adds her words to the "No" it follows."""
    words = text.strip() if directive.quote else ""
    try:
        with db.begin_nested():
            row = None
            if directive.ref is not None:
                row = db.scalar(
                    select(UnansweredQuestion).where(UnansweredQuestion.ref == directive.ref)
                )  # Rasa's id of the "No" (a random uuid), never her contact
            if row is None:
                db.add(
                    UnansweredQuestion(
                        contact_id=contact_id,
                        reason=directive.reason,
                        language=directive.language,
                        entry_id=directive.entry_id,
                        ref=directive.ref,
                        text=words,
                    )
                )
            elif words and not row.text:
                row.text = words
    except Exception:
        log.exception("could not keep an unanswered question (%s)", directive.reason)
