"""The retention period: what she wrote is deleted RETENTION_DAYS (default 30) after her last
message, whatever happened in between.

`sweep(db, now)` deletes, for every contact last seen before the cutoff, her messages, her
referral cases and the counsellors' notes on them, what the bot could not answer her, and the
contact itself; anonymous feedback and unanswered questions older than the cutoff (even when
she still writes); and Rasa's tracker rows (table `rasa_trackers`, when it exists) that
are older than the cutoff or belong to a deleted contact. The audit log stays: it holds case
numbers and staff names, nothing about her.

The gateway runs it an hour apart (`run_every`); `python -m bot.storage.retention` runs it once.
Children are deleted explicitly rather than left to ON DELETE CASCADE, so a connection
without SQLite's foreign_keys pragma deletes them as well. The referral tables are named here
as plain tables: their models live in a layer above this one.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Engine,
    Integer,
    String,
    column,
    delete,
    func,
    inspect,
    select,
    table,
)
from sqlalchemy.orm import Session

from bot.storage.models import Contact, Feedback, Message, UnansweredQuestion, utcnow

log = logging.getLogger(__name__)
BATCH = 500

_cases = table("cases", column("id", Integer), column("contact_id", Integer))
_notes = table("case_notes", column("id", Integer), column("case_id", Integer))
_trackers = table(
    "rasa_trackers",
    column("sender_id", String),
    column("updated_at", DateTime(timezone=True)),
)


def _older(db: Session, col, cutoff: datetime) -> ColumnElement[bool]:
    """col < cutoff; on SQLite by julianday(), which reads both SQLAlchemy's stored format and
    ISO 8601 with a "T" and an offset, whoever wrote the row."""
    if db.get_bind().dialect.name == "sqlite":
        return func.julianday(col) < func.julianday(cutoff.isoformat())
    return col < cutoff


def _delete(db: Session, tbl, where) -> int:
    """Deletes the rows; how many. Counted first: SQLite's rowcount leaves out rows that a
    cascade removed before the statement reached them."""
    n = db.scalar(select(func.count()).select_from(tbl).where(where)) or 0
    if n:
        db.execute(delete(tbl).where(where))
    return n


def sweep(db: Session, now: datetime, days: int | None = None) -> dict[str, int]:
    """Deletes what is older than the retention period; returns how many rows of each kind.
    The caller commits."""
    if days is None:
        from bot.settings import get_settings

        days = get_settings().retention_days
    # SQLite stores datetimes without their offset: compare in UTC, as they were written
    cutoff = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC) - timedelta(days=days)
    kinds = ("contacts", "messages", "cases", "notes", "feedback", "trackers", "unanswered")
    done = dict.fromkeys(kinds, 0)
    has_trackers = inspect(db.connection()).has_table("rasa_trackers")
    while True:
        batch = db.execute(
            select(Contact.id, Contact.conversation_key)
            .where(Contact.last_seen_at < cutoff)
            .order_by(Contact.id)
            .limit(BATCH)
        ).all()
        if not batch:
            break
        ids = [row.id for row in batch]
        her_cases = select(_cases.c.id).where(_cases.c.contact_id.in_(ids)).scalar_subquery()
        for key, tbl, where in (
            ("notes", _notes, _notes.c.case_id.in_(her_cases)),
            ("cases", _cases, _cases.c.contact_id.in_(ids)),
            ("messages", Message, Message.contact_id.in_(ids)),
            ("unanswered", UnansweredQuestion, UnansweredQuestion.contact_id.in_(ids)),
            ("contacts", Contact, Contact.id.in_(ids)),
        ):
            done[key] += _delete(db, tbl, where)
        if has_trackers:
            done["trackers"] += _delete(
                db, _trackers, _trackers.c.sender_id.in_([row.conversation_key for row in batch])
            )
    done["feedback"] = _delete(db, Feedback, _older(db, Feedback.created_at, cutoff))
    # she still writes, but what the bot could not answer her weeks ago goes all the same
    done["unanswered"] += _delete(
        db, UnansweredQuestion, _older(db, UnansweredQuestion.created_at, cutoff)
    )
    if has_trackers:
        done["trackers"] += _delete(db, _trackers, _older(db, _trackers.c.updated_at, cutoff))
    db.expire_all()  # objects of deleted rows must not be flushed back
    return done


def run_once(engine: Engine, days: int | None = None) -> dict[str, int]:
    with Session(engine) as db:
        done = sweep(db, utcnow(), days)
        db.commit()
    return done


async def run_every(
    engine: Engine, days: int | None = None, every_s: float = 3600.0, first_after_s: float = 60.0
) -> None:
    """The gateway's background task: a sweep shortly after start, then once `every_s`."""
    await asyncio.sleep(first_after_s)
    while True:
        try:
            done = await asyncio.to_thread(run_once, engine, days)
            if any(done.values()):
                log.info("retention: deleted %s", done)  # counts only
        except Exception:  # the next round tries again
            log.exception("the retention sweep failed")
        await asyncio.sleep(every_s)


def main() -> None:
    from bot.settings import get_settings
    from bot.storage.db import engine_for

    settings = get_settings()
    done = run_once(engine_for(settings.database_url))
    print(
        f"retention {settings.retention_days} days: deleted "
        + ", ".join(f"{n} {kind}" for kind, n in done.items())
    )


if __name__ == "__main__":
    main()
