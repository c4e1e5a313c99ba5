"""The referral queue: cases from her handoff request to resolved.

Every function takes a Session and does not commit; the caller commits (a claim holds its
row lock until then, so commit promptly). State changes are explicit functions, never ORM
hooks.

Routing: a waiting case is offered to active counsellors who speak her language and cover its
topic (a counsellor with no topics covers all), and only to women when she asked for a woman.
Emergency first, then high, then normal; oldest first within a priority. A case that waited
past the escalation time is offered to every counsellor (an interpreter can be arranged), but
a request for a woman counsellor is never relaxed.

Claiming is atomic: one UPDATE ... WHERE status = 'waiting' whose target row is chosen by a
subquery. On PostgreSQL the subquery takes `FOR UPDATE SKIP LOCKED`, so concurrent claims
pass each other instead of queueing on one row; the outer WHERE re-checks the status after
the lock. On SQLite a write statement runs under the database's single write lock, so the
subquery and the update see the same state; the conditional WHERE makes a stale choice claim
nothing rather than claim twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, false, func, or_, select, true, update
from sqlalchemy.orm import Session, aliased

from bot.referrals import hours
from bot.referrals.models import (
    EMERGENCY,
    HELD_STATUSES,
    HIGH,
    OPEN_STATUSES,
    OUTCOMES,
    PRIORITIES,
    TOPICS,
    Case,
    CaseHold,
    User,
)
from bot.storage.models import Contact
from bot.storage.status import CASE, CaseStatus
from langtools.languages import ENGLISH


class QueueError(Exception):
    """An operation that does not fit the case's state (e.g. resolving a waiting case)."""


@dataclass(frozen=True)
class CaseCreated:
    case_id: int
    created: bool  # False: she already had an open case, returned instead
    waiting_ahead: int  # cases before hers for her language
    open_now: bool
    opens_at: datetime | None  # when counsellors next answer, in the hours' time zone
    # counsellors logged in now who may take her case; 0 while open means "nobody available"
    counsellors_online: int = 0


def _now(now: datetime | None) -> datetime:
    # UTC always: SQLite stores a datetime's wall clock without its zone, and compares text.
    return (hours.aware(now) or datetime.now(UTC)).astimezone(UTC)


def _priority(value: int | str | None) -> int:
    if isinstance(value, int):
        return max(0, min(EMERGENCY, value))
    return PRIORITIES.get(str(value or "normal").lower(), PRIORITIES["normal"])


def open_case(db: Session, contact_id: int) -> Case | None:
    return db.scalar(
        select(Case)
        .where(Case.contact_id == contact_id, Case.status.in_(OPEN_STATUSES))
        .order_by(Case.id.desc())
        .limit(1)
    )


# -- used by the gateway (bot/core/pipeline.py) ---------------------------------------------
def create_case(
    db: Session,
    contact: Contact,
    *,
    topic: str | None,
    language: str | None,
    priority: int | str | None = "normal",
    woman_counsellor: bool | None = None,
    contact_later: bool = False,
    now: datetime | None = None,
) -> CaseCreated:
    now = _now(now)
    case = open_case(db, contact.id)
    created = case is None
    if case is None:
        case = Case(
            contact_id=contact.id,
            channel=contact.channel,
            language=language or contact.language or "en",
            topic=topic if topic in TOPICS else "other",
            priority=_priority(priority),
            woman_counsellor=woman_counsellor,
            contact_later=bool(contact_later),
            status=CaseStatus.WAITING,
            created_at=now,
            waiting_since=now,
            last_activity_at=now,
        )
        db.add(case)
        db.flush()
    else:
        case.priority = max(case.priority, _priority(priority))
        if woman_counsellor:
            case.woman_counsellor = True
        case.contact_later = case.contact_later or bool(contact_later)
        case.last_activity_at = now
    period_open = hours.open_now(db, now)
    return CaseCreated(
        case.id,
        created,
        waiting_ahead(db, case),
        period_open,
        None if period_open else hours.next_opening(db, now),
        counsellors_online(db, case, now),
    )


def counsellors_online(db: Session, case: Case, now: datetime | None = None) -> int:
    """Active counsellors with a live workspace session who may take this case."""
    from bot.referrals.models import UserSession

    users = db.scalars(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.expires_at > _now(now), User.active.is_(True))
        .distinct()
    )
    return sum(1 for u in users if may_take(u, case))


def holding_case(db: Session, contact_id: int) -> Case | None:
    """Her case while a counsellor holds it; the bot stays silent meanwhile."""
    return db.scalar(
        select(Case)
        .where(Case.contact_id == contact_id, Case.status.in_(HELD_STATUSES))
        .order_by(Case.id.desc())
        .limit(1)
    )


def flag_danger(db: Session, contact_id: int, now: datetime | None = None) -> None:
    """A message the danger screen flagged: her open case, in any status, becomes emergency."""
    case = open_case(db, contact_id)
    if case is not None:
        case.priority = EMERGENCY
        case.last_activity_at = _now(now)


# -- queue maths ---------------------------------------------------------------------------------
def waiting_ahead(db: Session, case: Case) -> int:
    """Waiting cases in her language that will be served before hers."""
    if case.status != "waiting":
        return 0
    return (
        db.scalar(
            select(func.count())
            .select_from(Case)
            .where(
                Case.status == "waiting",
                routing_language() == case.routing_language,
                Case.id != case.id,
                or_(
                    Case.priority > case.priority,
                    and_(
                        Case.priority == case.priority,
                        or_(
                            Case.created_at < case.created_at,
                            and_(Case.created_at == case.created_at, Case.id < case.id),
                        ),
                    ),
                ),
            )
        )
        or 0
    )


def queue_position(db: Session, case: Case) -> int | None:
    """1 = next to be served; None when not waiting."""
    return None if case.status != "waiting" else waiting_ahead(db, case) + 1


QUEUE_ORDER = (Case.priority.desc(), Case.created_at.asc(), Case.id.asc())


def eligible(user: User, c=Case):
    """SQL condition: cases (of entity `c`, Case or an alias) this counsellor may be offered."""
    langs, topics = user.language_list, user.topic_list
    speaks = routing_language(c).in_(langs) if langs else false()
    covers = c.topic.in_(topics) if topics else true()
    routed = or_(and_(speaks, covers), c.escalated_at.is_not(None))
    if not user.is_woman:
        routed = and_(routed, or_(c.woman_counsellor.is_(None), c.woman_counsellor == false()))
    return routed


def may_take(user: User, case: Case) -> bool:
    """Python twin of `eligible`, for one case already loaded."""
    if user.role == "editor" or not user.active:
        return False
    if case.woman_counsellor and not user.is_woman:
        return False
    if case.escalated_at is not None:
        return True
    return cannot_take(user, case) is None


def routing_language(c=Case):
    """SQL twin of Case.routing_language."""
    return func.coalesce(c.write_in, c.language)


def cannot_take(user: User, case: Case) -> str | None:
    """Why this colleague may not be given the case (None: she may): a transfer that
    strands her with someone who cannot read her is refused with the reason."""
    if user.role == "editor" or not user.active:
        return "does not take cases"
    if case.woman_counsellor and not user.is_woman:
        return "she asked for a woman counsellor"
    language = case.routing_language
    if language not in user.language_list:
        return f"does not write {ENGLISH.get(language, language)}"
    topics = user.topic_list
    if topics and case.topic not in topics:
        return f"does not cover {case.topic}"
    return None


def offered(db: Session, user: User, limit: int = 50) -> list[Case]:
    return list(
        db.scalars(
            select(Case)
            .where(Case.status == "waiting", eligible(user))
            .order_by(*QUEUE_ORDER)
            .limit(limit)
        )
    )


# -- counsellor operations -----------------------------------------------------------------------
def _claim_where(db: Session, user: User, case_id: int | None):
    c = aliased(Case)  # its own FROM: not correlated to the UPDATE's table
    pick = select(c.id).where(c.status == "waiting", eligible(user, c))
    if case_id is not None:
        pick = pick.where(c.id == case_id)
    pick = pick.order_by(c.priority.desc(), c.created_at.asc(), c.id.asc()).limit(1)
    if db.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    return pick.scalar_subquery()


def _claim(db: Session, user: User, case_id: int | None, now: datetime | None) -> Case | None:
    if not user.active or user.role == "editor":
        return None
    now = _now(now)
    claimed = db.execute(
        CASE.transition(Case, CaseStatus.WAITING, CaseStatus.ASSIGNED)
        .where(Case.id == _claim_where(db, user, case_id))
        .values(assigned_to=user.id, assigned_at=now, last_activity_at=now)
        .returning(Case.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    if claimed is None:
        return None
    _hold_starts(db, claimed, user.id, now)
    case = db.get(Case, claimed)
    db.refresh(case)
    return case


def claim_next(db: Session, user: User, now: datetime | None = None) -> Case | None:
    """The first case offered to this counsellor, now hers; None when there is none."""
    return _claim(db, user, None, now)


def claim(db: Session, user: User, case_id: int, now: datetime | None = None) -> Case | None:
    """This case, if it is still waiting and offered to her; None otherwise."""
    return _claim(db, user, case_id, now)


def _held_by(case: Case, user: User) -> None:
    if case.status not in HELD_STATUSES:
        raise QueueError(f"case {case.id} is {case.status}, not held by a counsellor")
    if case.assigned_to != user.id and user.role != "admin":
        raise QueueError(f"case {case.id} is held by another counsellor")


def record_reply(db: Session, case: Case, user: User, now: datetime | None = None) -> None:
    """A counsellor wrote to her: the case is active, first reply time kept."""
    _held_by(case, user)
    now = _now(now)
    CASE.move(case, CaseStatus.ACTIVE)
    case.first_reply_at = case.first_reply_at or now
    case.last_activity_at = now


def release(db: Session, case: Case, user: User, now: datetime | None = None) -> Case:
    """Back to the queue, keeping her place (queue order is by creation time)."""
    _held_by(case, user)
    now = _now(now)
    CASE.move(case, CaseStatus.WAITING)
    _holds_end(db, [case.id], now)
    case.assigned_to, case.assigned_at = None, None
    case.waiting_since = now
    case.last_activity_at = now
    return case


def transfer(
    db: Session,
    case: Case,
    user: User,
    *,
    to_user: User | None = None,
    to_language: str | None = None,
    now: datetime | None = None,
) -> Case:
    """To a colleague (she holds it at once) or to another language's queue."""
    if case.status not in OPEN_STATUSES:
        raise QueueError(f"case {case.id} is {case.status}")
    if case.status != "waiting":
        _held_by(case, user)
    now = _now(now)
    if to_user is not None:
        if (why := cannot_take(to_user, case)) is not None:
            raise QueueError(why if why.startswith("she") else f"{to_user.name} {why}")
        CASE.move(case, CaseStatus.ASSIGNED)
        _holds_end(db, [case.id], now)
        _hold_starts(db, case.id, to_user.id, now)
        case.assigned_to, case.assigned_at = to_user.id, now
    elif to_language:  # her language stays hers; counsellors write in this one
        case.write_in = None if to_language == case.language else to_language
        CASE.move(case, CaseStatus.WAITING)
        _holds_end(db, [case.id], now)
        case.assigned_to, case.assigned_at = None, None
        case.waiting_since = now
    else:
        raise QueueError("transfer needs a colleague or a language")
    case.last_activity_at = now
    return case


def resolve(
    db: Session,
    case: Case,
    user: User,
    outcome: str,
    referred_service: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Closes the case; the bot answers her again. no_contact closes it as abandoned."""
    if outcome not in OUTCOMES:
        raise QueueError(f"unknown outcome {outcome!r}")
    if outcome == "referred" and not (referred_service or "").strip():
        raise QueueError("say which service she was referred to")
    if case.status != "waiting":
        _held_by(case, user)
    now = _now(now)
    CASE.move(case, CaseStatus.ABANDONED if outcome == "no_contact" else CaseStatus.RESOLVED)
    _holds_end(db, [case.id], now)
    case.outcome = outcome
    case.referred_service = (referred_service or "").strip()[:200] or None
    case.resolved_at = case.last_activity_at = now
    return case


def escalate_overdue(
    db: Session, now: datetime | None = None, after_minutes: float = 15, *, hours_aware: bool = True
) -> list[int]:
    """Waiting cases past `after_minutes` are escalated once: normal becomes high (emergency
    stays reserved for danger), escalated_at is set, and every counsellor is offered them.
    With hours_aware, only time inside opening hours counts, so a night's cases are not all
    escalated at the morning's first tick."""
    now = _now(now)
    threshold = now - timedelta(minutes=after_minutes)
    if hours_aware:
        period = hours.current_period(db, now)
        if period is None or period[0] > threshold:
            return []
    ids = list(
        db.scalars(
            select(Case.id).where(
                Case.status == "waiting",
                Case.escalated_at.is_(None),
                Case.waiting_since <= threshold,
            )
        )
    )
    if ids:
        db.execute(
            update(Case)
            .where(Case.id.in_(ids), Case.status == "waiting")
            .values(
                priority=func.max(Case.priority, HIGH)
                if _sqlite(db)
                else func.greatest(Case.priority, HIGH),
                escalated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        db.expire_all()
    return ids


def release_stale_claims(
    db: Session, now: datetime | None = None, after_minutes: float = 30
) -> list[int]:
    """Cases claimed but not answered within `after_minutes` go back to the queue in their
    old place: while a case is held the bot is silent, so a claim nobody acts on (a
    counsellor called away, a closed laptop) must not leave her without any answer."""
    now = _now(now)
    ids = list(
        db.scalars(
            select(Case.id).where(
                Case.status == "assigned",
                Case.first_reply_at.is_(None),
                Case.assigned_at <= now - timedelta(minutes=after_minutes),
            )
        )
    )
    if ids:
        db.execute(
            CASE.transition(Case, CaseStatus.ASSIGNED, CaseStatus.WAITING)
            .where(Case.id.in_(ids))
            .values(assigned_to=None, assigned_at=None, last_activity_at=now)
            .execution_options(synchronize_session=False)
        )
        _holds_end(db, ids, now)
        db.expire_all()
    return ids


def release_all_held_by(db: Session, user: User, now: datetime | None = None) -> list[int]:
    """A counsellor leaves (deactivated): every case she holds goes back to the queue."""
    now = _now(now)
    ids = list(
        db.scalars(
            select(Case.id).where(Case.assigned_to == user.id, Case.status.in_(HELD_STATUSES))
        )
    )
    if ids:
        for held in (CaseStatus.ASSIGNED, CaseStatus.ACTIVE):
            db.execute(
                CASE.transition(Case, held, CaseStatus.WAITING)
                .where(Case.id.in_(ids))
                .values(assigned_to=None, assigned_at=None, waiting_since=now, last_activity_at=now)
                .execution_options(synchronize_session=False)
            )
        _holds_end(db, ids, now)
        db.expire_all()
    return ids


def expire_stale(db: Session, now: datetime | None = None, after_hours: float = 72) -> list[int]:
    """Waiting cases nobody took within `after_hours`, where she did not agree to be
    contacted later, are closed as expired (her next request opens a new one)."""
    now = _now(now)
    ids = list(
        db.scalars(
            select(Case.id).where(
                Case.status == "waiting",
                Case.contact_later == false(),
                Case.waiting_since <= now - timedelta(hours=after_hours),
            )
        )
    )
    if ids:
        db.execute(
            CASE.transition(Case, CaseStatus.WAITING, CaseStatus.EXPIRED)
            .where(Case.id.in_(ids))
            .values(resolved_at=now)
            .execution_options(synchronize_session=False)
        )
        db.expire_all()
    return ids


# -- held stretches (bot/workspace/held.py reads them) ---------------------------------------------
def _hold_starts(db: Session, case_id: int, user_id: int, now: datetime) -> None:
    db.add(CaseHold(case_id=case_id, user_id=user_id, started_at=now))
    db.flush()


def _holds_end(db: Session, case_ids: list[int], now: datetime) -> None:
    db.execute(
        update(CaseHold)
        .where(CaseHold.case_id.in_(case_ids), CaseHold.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )


def _sqlite(db: Session) -> bool:
    return db.get_bind().dialect.name == "sqlite"
