"""What a counsellor does to a case, shared by the web pages and the JSON API: who may see a
case, the queue as rows, the case with her transcript, and reply/note/transfer/resolve with
the audit entry and the messages to her that each implies.

The caller commits, then wakes the delivery worker (messages to her are queued rows until
bot/core/delivery.py sends them).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import case as when_then
from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session

from bot.core import outbox
from bot.referrals import queue
from bot.referrals.hours import aware
from bot.referrals.models import (
    CLOSED_STATUSES,
    EMERGENCY,
    OPEN_STATUSES,
    PRIORITY_NAMES,
    STATUSES,
    CannedReply,
    Case,
    CaseNote,
    User,
)
from bot.storage.models import Message
from bot.workspace import held, labels
from bot.workspace.auth import audit
from common import texts

log = logging.getLogger(__name__)
MAX_REPLY = 4000
TRANSCRIPT_LIMIT = 300
RESOLVED_FALLBACK = (
    "The counsellor has closed this conversation. You can write to me again "
    "at any time, and ask for a person again whenever you want."
)


class Refused(Exception):
    """Not allowed or not found; the message (and title) are safe to show."""

    def __init__(self, status: int, message: str, title: str = ""):
        super().__init__(message)
        self.status, self.message, self.title = status, message, title


def now() -> datetime:
    return datetime.now(UTC)


def can_view(user: User, case: Case) -> bool:
    """Need to know: her counsellor, counsellors it is offered to while waiting, admins."""
    if user.role == "admin":
        return True
    if user.role != "counsellor" or not user.active:
        return False
    if case.assigned_to == user.id:
        return True
    return case.status == "waiting" and queue.may_take(user, case)


MAX_ID = 2**63 - 1  # the largest id a database column holds; beyond it SQLite raises


def row_id(value: object) -> int | None:
    """A row id from a path or a form, or None where it cannot be one (so it finds nothing,
    rather than overflowing the database driver)."""
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def get_case(db: Session, user: User, case_id: int) -> Case:
    case = db.get(Case, case_id) if row_id(case_id) else None
    if case is None or not can_view(user, case):
        # the same answer for "no such case" and "not yours": case numbers reveal nothing
        raise Refused(404, "No such case, or it is not shared with you.")
    return case


def queue_rows(
    db: Session,
    user: User,
    *,
    language: str = "",
    topic: str = "",
    status: str = "open",
    scope: str = "mine",
) -> list[dict]:
    """Cases for the queue view. scope "mine": held by me or offered to me, and for an admin
    also every waiting emergency (whatever its language); "all" (admins): every case.
    Order: mine first (emergencies on top), then waiting by priority and age, then the rest."""
    q = select(Case)
    if status == "open":
        q = q.where(Case.status.in_(OPEN_STATUSES))
    elif status == "closed":
        q = q.where(Case.status.in_(CLOSED_STATUSES))
    elif status in STATUSES:
        q = q.where(Case.status == status)
    if language:
        q = q.where(queue.routing_language() == language)
    if topic:
        q = q.where(Case.topic == topic)
    mine = Case.assigned_to == user.id
    if user.role != "admin" or scope != "all":
        offered = queue.eligible(user)
        if user.role == "admin":
            offered = or_(offered, Case.priority == EMERGENCY)
        q = q.where(or_(mine, (Case.status == "waiting") & offered))
    group = when_then((mine, 0), (Case.status == "waiting", 1), else_=2)
    q = q.order_by(group, *queue.QUEUE_ORDER).limit(200)
    at = now()
    found = list(db.scalars(q))
    unanswered = unanswered_since(
        db, [c.contact_id for c in found if c.status in ("assigned", "active")]
    )
    return [case_summary(c, user, at, unanswered.get(c.contact_id)) for c in found]


SEARCH_LIMIT = 1000  # the most recent cases a search reads the notes of


def search(db: Session, user: User, text: str) -> list[dict]:
    """Cases she may open (need to know: `can_view`) whose number is `text` ("#12", "12"),
    or whose notes or referral name it: her messages are never searched. Newest first.
    Notes are encrypted at rest, so they are read and matched here, not in SQL."""
    text = " ".join(text.split())
    if not text:
        return []
    at = now()
    number = row_id(text.removeprefix("#")) if text.removeprefix("#").isdigit() else None
    if number is not None:
        case = db.get(Case, number)
        return [case_summary(case, user, at)] if case and can_view(user, case) else []
    q = select(Case).order_by(Case.id.desc()).limit(SEARCH_LIMIT)
    if user.role != "admin":
        q = q.where(
            or_(Case.assigned_to == user.id, (Case.status == "waiting") & queue.eligible(user))
        )
    needle = text.casefold()
    found = []
    for case in db.scalars(q):
        words = [n.text for n in case.notes] + [case.referred_service or ""]
        if any(needle in w.casefold() for w in words) and can_view(user, case):
            found.append(case_summary(case, user, at))
    return found


def unanswered_since(db: Session, contact_ids: list[int]) -> dict[int, datetime]:
    """For held cases: since when her latest message waits for a counsellor's answer."""
    if not contact_ids:
        return {}
    last_in = dict(
        db.execute(
            select(Message.contact_id, func.max(Message.id))
            .where(Message.contact_id.in_(contact_ids), Message.direction == "in")
            .group_by(Message.contact_id)
        ).all()
    )
    last_answer = dict(
        db.execute(
            select(Message.contact_id, func.max(Message.id))
            .where(Message.contact_id.in_(contact_ids), Message.kind == "counsellor")
            .group_by(Message.contact_id)
        ).all()
    )
    waiting = [m for c, m in last_in.items() if m > (last_answer.get(c) or 0)]
    if not waiting:
        return {}
    return {
        c: aware(t)
        for c, t in db.execute(
            select(Message.contact_id, Message.created_at).where(Message.id.in_(waiting))
        )
    }


def case_summary(
    c: Case, user: User, at: datetime | None = None, unanswered: datetime | None = None
) -> dict:
    at = at or now()
    waited = (at - aware(c.waiting_since)).total_seconds() if c.status == "waiting" else None
    return {
        "id": c.id,
        "status": c.status,
        "language": c.language,
        "write_in": c.routing_language,  # the language to write to her in
        "topic": c.topic,
        "priority": PRIORITY_NAMES.get(c.priority, "normal"),
        "channel": c.channel,
        "woman_counsellor": bool(c.woman_counsellor),
        "contact_later": c.contact_later,
        "escalated": c.escalated_at is not None,
        "created_at": aware(c.created_at).isoformat(),
        "waiting_minutes": None if waited is None else int(waited // 60),
        # held cases: minutes her latest message has waited for a counsellor's answer
        "unanswered_minutes": (
            None if unanswered is None else int((at - unanswered).total_seconds() // 60)
        ),
        "assigned_to": c.counsellor.name if c.counsellor else None,
        "mine": c.assigned_to == user.id,
        "can_claim": c.status == "waiting" and queue.may_take(user, c),
        "outcome": c.outcome,
        "referred_service": c.referred_service,
    }


def transcript(db: Session, case: Case, after_id: int = 0) -> list[dict]:
    rows = list(
        db.scalars(
            select(Message)
            .where(Message.contact_id == case.contact_id, Message.id > after_id)
            .order_by(Message.id.desc())
            .limit(TRANSCRIPT_LIMIT)
        )
    )
    return held.mark(
        db,
        case.contact_id,
        [
            {
                "id": m.id,
                "direction": m.direction,
                "kind": m.kind,
                "sender": m.sender,
                "text": m.text,
                # her own words: as she typed them; ours and the bot's: her language's way
                "dir": "auto" if m.direction == "in" else labels.direction(m.language),
                "status": m.status,
                "at": aware(m.created_at).isoformat(),
            }
            for m in reversed(rows)
        ],
    )


def case_detail(
    db: Session, user: User, case_id: int, *, audit_open: bool = True, hash_key: str | None = None
) -> dict:
    case = get_case(db, user, case_id)
    if audit_open:
        audit(db, user, "open", case.id)
    data = case_summary(case, user)
    data["transcript"] = transcript(db, case)
    # for the resolve form: what she wrote while held that nobody answered
    data["unanswered"] = [m for m in data["transcript"] if m["unanswered"]]
    data["notes"] = [
        {
            "id": n.id,
            "author": n.author.name if n.author else "(removed)",
            "text": n.text,
            "at": aware(n.created_at).isoformat(),
        }
        for n in case.notes
    ]
    data["earlier"] = earlier_cases(db, case)
    data["timeline"] = timeline(data["transcript"], case, data["earlier"])
    data["identifier"] = identifier(db, user, case, hash_key) if case.show_identifier else None
    data["show_identifier"] = case.show_identifier
    data["held_by_me"] = case.status in ("assigned", "active") and (
        case.assigned_to == user.id or user.role == "admin"
    )
    data["can_claim"] = case.status == "waiting" and queue.may_take(user, case)
    return data


def earlier_cases(db: Session, case: Case) -> list[dict]:
    """Her earlier cases, newest first, with their outcomes and notes: whoever may open this
    case sees them, so a woman who comes back need not tell everything again."""
    rows = db.scalars(
        select(Case)
        .where(Case.contact_id == case.contact_id, Case.id != case.id, Case.id < case.id)
        .order_by(Case.id.desc())
    )
    return [
        {
            "id": c.id,
            "status": c.status,
            "topic": c.topic,
            "outcome": c.outcome,
            "referred_service": c.referred_service,
            "counsellor": c.counsellor.name if c.counsellor else None,
            "created_at": aware(c.created_at).isoformat(),
            "resolved_at": aware(c.resolved_at).isoformat() if c.resolved_at else None,
            "notes": [
                {
                    "author": n.author.name if n.author else "(removed)",
                    "text": n.text,
                    "at": aware(n.created_at).isoformat(),
                }
                for n in c.notes
            ],
        }
        for c in rows
    ]


def timeline(messages: list[dict], case: Case, earlier: list[dict]) -> list[dict]:
    """Her messages with a separator where each of her cases began and ended, oldest first,
    so two conversations never run together."""
    marks = []
    for c in earlier:
        marks.append({"sep": True, "at": c["created_at"], "text": f"Case #{c['id']} began"})
        if c["resolved_at"]:
            outcome = labels.OUTCOMES.get(c["outcome"] or "", "closed")
            marks.append(
                {"sep": True, "at": c["resolved_at"], "text": f"Case #{c['id']} ended: {outcome}"}
            )
    marks.append(
        {
            "sep": True,
            "at": aware(case.created_at).isoformat(),
            "text": f"This case (#{case.id}) began",
        }
    )
    order = {True: 0, False: 1}  # at the same moment, the separator first
    items = [dict(m, sep=False) for m in messages] + marks
    return sorted(items, key=lambda x: (x["at"], order[x["sep"]]))


def identifier(db: Session, user: User, case: Case, hash_key: str | None = None) -> str | None:
    """Her channel address, only where she consented; every look is audited."""
    if not case.show_identifier:
        return None
    audit(db, user, "reveal_identifier", case.id)
    return outbox.reveal_address(case.contact, hash_key)


def canned_for(db: Session, language: str, user: User | None = None) -> list[CannedReply]:
    """The shared replies in a language and the counsellor's own, hers first."""
    mine = CannedReply.owner_id == user.id if user is not None else false()
    return list(
        db.scalars(
            select(CannedReply)
            .where(CannedReply.language == language, or_(CannedReply.owner_id.is_(None), mine))
            .order_by(CannedReply.owner_id.is_(None), CannedReply.title)
        )
    )


# -- operations -----------------------------------------------------------------------------------
def _guard(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except queue.QueueError as exc:
        raise Refused(409, str(exc)) from exc


def claim(db: Session, user: User, case_id: int | None = None) -> Case:
    if case_id is not None and not row_id(case_id):
        get_case(db, user, case_id)  # the same 404 as for any case that is not there
    case = queue.claim_next(db, user) if case_id is None else queue.claim(db, user, case_id)
    if case is None and case_id is not None:
        lost_race(db, user, case_id)
    if case is None:
        raise Refused(
            409,
            "No case to claim: it was taken by a colleague, or none is waiting "
            "for your languages and topics."
            if case_id
            else "No case is waiting for your languages and topics.",
        )
    audit(db, user, "claim", case.id)
    return case


def lost_race(db: Session, user: User, case_id: int) -> None:
    """A case she may take was claimed by a colleague first: say who, and when. Nothing is
    said about a case she could not have taken."""
    case = db.get(Case, case_id)
    if case is None or case.status not in ("assigned", "active") or not queue.may_take(user, case):
        return
    if case.assigned_to == user.id:
        raise Refused(409, "You already hold this case.", "The case is already yours")
    taken = f" at {labels.copenhagen(case.assigned_at)}" if case.assigned_at else ""
    who = case.counsellor.name if case.counsellor else "another counsellor"
    raise Refused(
        409,
        f"Case #{case.id} was taken by a colleague: {who} claimed it{taken}, a moment "
        "before you. She is in good hands; the queue has the cases still waiting.",
        "A colleague was quicker",
    )


def reply(db: Session, user: User, case_id: int, text: str) -> Message:
    text = (text or "").strip()
    if not text:
        raise Refused(400, "The reply is empty.")
    if len(text) > MAX_REPLY:
        raise Refused(400, f"The reply is longer than {MAX_REPLY} characters.")
    case = get_case(db, user, case_id)
    _guard(queue.record_reply, db, case, user)
    [row] = outbox.enqueue(
        db,
        case.contact,
        [outbox.Reply(text, kind="counsellor")],
        language=case.language,
        sender=user.name,
    )
    audit(db, user, "reply", case.id)
    return row


def note(db: Session, user: User, case_id: int, text: str) -> CaseNote:
    text = (text or "").strip()
    if not text:
        raise Refused(400, "The note is empty.")
    case = get_case(db, user, case_id)
    row = CaseNote(case_id=case.id, user_id=user.id, text=text[:MAX_REPLY])
    db.add(row)
    audit(db, user, "note", case.id)
    db.flush()
    return row


def release(db: Session, user: User, case_id: int) -> Case:
    case = get_case(db, user, case_id)
    _guard(queue.release, db, case, user)
    audit(db, user, "release", case.id)
    return case


def transfer(
    db: Session,
    user: User,
    case_id: int,
    *,
    to_user: str | int | None = None,
    to_language: str | None = None,
    reason: str = "",
) -> Case:
    """To a colleague who writes her language and covers the topic, or to another language's
    queue (her language stays hers; the next counsellor writes in that one). The reason is
    kept as a note on the case, and she is told that another counsellor will answer."""
    case = get_case(db, user, case_id)
    colleague = None
    if to_user not in (None, ""):
        colleague_id = row_id(to_user)
        colleague = (
            db.get(User, colleague_id)
            if colleague_id
            else db.scalar(select(User).where(User.username == str(to_user)))
        )
        if colleague is None:
            raise Refused(400, "No such colleague.")
    if to_language and to_language not in labels.LANGUAGE_CODES:
        raise Refused(400, "No such language.")
    _guard(queue.transfer, db, case, user, to_user=colleague, to_language=to_language or None)
    where = (
        f"to {colleague.name}"
        if colleague
        else f"to the {labels.LANGUAGES.get(to_language or '', to_language)} queue"
    )
    reason = " ".join(reason.split())[:500]
    note = f"Transferred {where}: {reason or '(no reason given)'}"
    db.add(CaseNote(case_id=case.id, user_id=user.id, text=note))
    audit(db, user, "transfer", case.id, f"{where}: {reason}"[:200])
    outbox.enqueue(
        db,
        case.contact,
        [outbox.Reply(texts.text("utter_handoff_transferred", case.language), kind="notice")],
        language=case.language,
    )
    return case


def resolve(
    db: Session, user: User, case_id: int, outcome: str, referred_service: str | None = None
) -> Case:
    case = get_case(db, user, case_id)
    _guard(queue.resolve, db, case, user, outcome, referred_service)
    outbox.enqueue(
        db,
        case.contact,
        [outbox.Reply(resolved_text(case.language), kind="notice")],
        language=case.language,
    )
    audit(db, user, "resolve", case.id, outcome)
    return case


def set_consent(db: Session, user: User, case_id: int, consent: bool) -> Case:
    """She agreed (or withdrew her agreement) that her counsellor may see her number."""
    case = get_case(db, user, case_id)
    # only the one in the chat with her can have heard her agree; an admin may hide it again
    if case.assigned_to != user.id and (consent or user.role != "admin"):
        raise Refused(403, "Only her counsellor can record her consent.")
    case.show_identifier = consent
    audit(db, user, "consent_identifier" if consent else "withdraw_identifier", case.id)
    return case


def resolved_text(language: str) -> str:
    try:
        return texts.text("utter_handoff_resolved", language)
    except (KeyError, StopIteration):  # the response is not in domain.yml yet
        log.warning("utter_handoff_resolved missing from domain.yml; sending the fallback")
        return RESOLVED_FALLBACK
