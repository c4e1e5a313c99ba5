"""JSON API under /api/v1 for NGOs' own tools: the workspace's case operations with a bearer
token (`Authorization: Bearer wsk_...`, created by an admin). A token acts as its account,
with that account's routing and rights. Documented in docs/api.md.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from bot.workspace import cases
from bot.workspace.deps import Login, api_login, db_session, hash_key, wake_delivery

router = APIRouter(prefix="/api/v1", tags=["referrals"])


def login(request: Request, db: Session = Depends(db_session)) -> Login:
    return api_login(request, db)


class Text(BaseModel):
    text: str = Field(min_length=1, max_length=cases.MAX_REPLY)


class Transfer(BaseModel):
    to_user: str | None = Field(None, description="a colleague's username")
    to_language: str | None = Field(
        None,
        description="a language's queue, e.g. 'en': she keeps her language, "
        "counsellors write to her in this one",
    )
    reason: str = Field("", max_length=500, description="kept as a note on the case")


class Resolve(BaseModel):
    outcome: Literal["referred", "resolved_here", "no_contact"]
    referred_service: str | None = Field(None, max_length=200)


@router.get("/queue", summary="Cases offered to me or held by me")
def list_queue(
    language: str = "",
    topic: str = "",
    status: str = "open",
    scope: str = "mine",
    who: Login = Depends(login),
    db: Session = Depends(db_session),
):
    rows = cases.queue_rows(
        db, who.user, language=language, topic=topic, status=status, scope=scope
    )
    db.commit()
    return {"cases": rows}


@router.post("/queue/claim", summary="Claim the next case offered to me")
def claim_next(who: Login = Depends(login), db: Session = Depends(db_session)):
    case = cases.claim(db, who.user)
    db.commit()
    return cases.case_summary(case, who.user)


@router.post("/cases/{case_id}/claim", summary="Claim this waiting case")
def claim(case_id: int, who: Login = Depends(login), db: Session = Depends(db_session)):
    case = cases.claim(db, who.user, case_id)
    db.commit()
    return cases.case_summary(case, who.user)


@router.get("/cases/{case_id}", summary="A case with her transcript and the internal notes")
def get_case(
    case_id: int, request: Request, who: Login = Depends(login), db: Session = Depends(db_session)
):
    body = cases.case_detail(db, who.user, case_id, hash_key=hash_key(request))
    db.commit()
    return body


@router.post("/cases/{case_id}/reply", status_code=201, summary="Send her a message")
def reply(
    case_id: int,
    body: Text,
    request: Request,
    who: Login = Depends(login),
    db: Session = Depends(db_session),
):
    row = cases.reply(db, who.user, case_id, body.text)
    db.commit()
    wake_delivery(request)
    return {"message_id": row.id, "status": row.status}


@router.post("/cases/{case_id}/notes", status_code=201, summary="Add an internal note")
def add_note(
    case_id: int, body: Text, who: Login = Depends(login), db: Session = Depends(db_session)
):
    row = cases.note(db, who.user, case_id, body.text)
    db.commit()
    return {"note_id": row.id}


@router.post("/cases/{case_id}/release", summary="Put the case back in the queue")
def release(case_id: int, who: Login = Depends(login), db: Session = Depends(db_session)):
    case = cases.release(db, who.user, case_id)
    db.commit()
    return {"id": case.id, "status": case.status}


@router.post("/cases/{case_id}/transfer", summary="Transfer to a colleague or a language")
def transfer(
    case_id: int, body: Transfer, who: Login = Depends(login), db: Session = Depends(db_session)
):
    case = cases.transfer(
        db,
        who.user,
        case_id,
        to_user=body.to_user,
        to_language=body.to_language,
        reason=body.reason,
    )
    db.commit()
    return {
        "id": case.id,
        "status": case.status,
        "language": case.language,
        "write_in": case.routing_language,
    }


@router.post("/cases/{case_id}/resolve", summary="Resolve with an outcome; the bot resumes")
def resolve(
    case_id: int,
    body: Resolve,
    request: Request,
    who: Login = Depends(login),
    db: Session = Depends(db_session),
):
    case = cases.resolve(db, who.user, case_id, body.outcome, body.referred_service)
    db.commit()
    wake_delivery(request)
    return {"id": case.id, "status": case.status, "outcome": case.outcome}
