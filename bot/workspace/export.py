"""Right of access: everything stored about one woman, as a JSON file, from her case page.

`POST /workspace/cases/{id}/export` (a form with the CSRF token, like every button) answers
with a download: what she wrote and what was answered (with times and delivery status), all
her cases with topics, outcomes and the counsellors' notes, and the questions of hers kept for
the editors because the bot could not answer them well (bot/storage/unanswered.py). Who may
open the case may export it (her counsellor, a counsellor it is offered to while waiting, an
admin); every export is written to the audit log.

Left out on purpose: her number / chat id (she knows it, and the file may be read on the
phone that is watched), the keyed hash and Rasa's key (they mean nothing to her), staff
names and accounts, and other women's data (everything is selected by her contact id).
"""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import outbox
from bot.referrals.hours import aware
from bot.referrals.models import PRIORITY_NAMES, Case
from bot.storage.models import Contact, Message, UnansweredQuestion
from bot.workspace import auth, cases
from bot.workspace.deps import check_csrf, db_session, form, web_login

router = APIRouter(prefix="/workspace", include_in_schema=False)

ABOUT = (
    "Everything the orientation bot's service keeps about one person who wrote to it: her "
    "messages, the answers she got, and her requests to talk to a counsellor with the "
    "counsellors' notes, and the questions the bot could not answer well, kept so that its "
    "editors can improve the answers. Times are UTC. It is deleted {days} days after her last "
    "message, or at once if she asks the bot to delete her data."
)


def _at(value) -> str | None:
    return aware(value).isoformat() if value is not None else None


def _sender(m: Message) -> str:
    if m.direction == "in":
        return "her"
    return "counsellor" if m.kind == "counsellor" else "bot"


def her_data(db: Session, contact: Contact, retention_days: int) -> dict:
    messages = db.scalars(
        select(Message).where(Message.contact_id == contact.id).order_by(Message.id)
    )
    her_cases = db.scalars(select(Case).where(Case.contact_id == contact.id).order_by(Case.id))
    unanswered = db.scalars(
        select(UnansweredQuestion)
        .where(UnansweredQuestion.contact_id == contact.id)
        .order_by(UnansweredQuestion.id)
    )
    last = aware(contact.last_seen_at)
    return {
        "about": ABOUT.format(days=retention_days),
        "contact": {
            "channel": contact.channel,
            "language": contact.language,
            "region": contact.region,
            "first_message_at": _at(contact.created_at),
            "last_message_at": _at(last),
            "kept_until": _at(last + timedelta(days=retention_days)),
        },
        "messages": [
            {
                "at": _at(m.created_at),
                "from": _sender(m),
                "kind": m.kind,
                "text": m.text,
                "buttons": [b.get("title", "") for b in outbox.buttons_of(m)],
                "language": m.language,
                "status": m.status,
                "sent_at": _at(m.sent_at),
                "status_reported_at": _at(m.status_reported_at),  # by WhatsApp, when it did
            }
            for m in messages
        ],
        "cases": [
            {
                "number": c.id,
                "status": c.status,
                "topic": c.topic,
                "language": c.language,
                "priority": PRIORITY_NAMES.get(c.priority, "normal"),
                "asked_for_a_woman_counsellor": c.woman_counsellor,
                "may_be_contacted_later": c.contact_later,
                "opened_at": _at(c.created_at),
                "first_reply_at": _at(c.first_reply_at),
                "resolved_at": _at(c.resolved_at),
                "outcome": c.outcome,
                "referred_service": c.referred_service,
                "notes": [{"at": _at(n.created_at), "text": n.text} for n in c.notes],
            }
            for c in her_cases
        ],
        # reason: no_answer ("I don't know"), clarify (asked back), not_helpful ("No")
        "unanswered_questions": [
            {"at": _at(q.created_at), "reason": q.reason, "language": q.language, "text": q.text}
            for q in unanswered
        ],
    }


@router.post("/cases/{case_id}/export")
def export(
    case_id: int, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = web_login(request, db, ("counsellor", "admin"))
    check_csrf(login, data)
    case = cases.get_case(db, login.user, case_id)
    settings = getattr(request.app.state, "settings", None)
    body = her_data(db, case.contact, settings.retention_days if settings else 30)
    auth.audit(
        db,
        login.user,
        "export",
        case.id,
        f"{len(body['messages'])} messages, {len(body['cases'])} cases, "
        f"{len(body['unanswered_questions'])} unanswered questions",
    )
    db.commit()
    return Response(
        json.dumps(body, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="her-data-case-{case.id}.json"'},
    )
