"""A REST channel compatible with Rasa's, so existing Rasa REST clients work unchanged.

POST /webhooks/rest/webhook  {"sender": "...", "message": "...", "metadata": {...}}
  -> 200 [{"recipient_id": "...", "text": "...", "buttons": [...]}, ...]
`metadata.message_id`, when given, makes a retried request idempotent.

GET /webhooks/rest/outbox?sender=...  -> the same list format, for messages no answer carried
  (a counsellor's reply, an answer given after an outage); each is returned once.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from bot.core.pipeline import Inbound

router = APIRouter()
MAX_BODY_BYTES = 256 * 1024


class RestMessage(BaseModel):
    sender: str = Field(min_length=1, max_length=128)
    message: str = Field(default="", max_length=100_000)
    metadata: dict | None = None


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status)


@router.get("/webhooks/rest/")
async def rest_health() -> dict:
    return {"status": "ok"}


def _rasa_format(sender: str, replies) -> list[dict]:
    out = []
    for r in replies:
        item: dict = {"recipient_id": sender, "text": r.text}
        if r.buttons:
            item["buttons"] = list(r.buttons)
        out.append(item)
    return out


@router.get("/webhooks/rest/outbox")
async def rest_outbox(request: Request, sender: str = ""):
    if not 1 <= len(sender) <= 128:
        return _error(400, "sender is required (1 to 128 characters)")
    return _rasa_format(sender, request.app.state.pipeline.fetch_waiting("rest", sender))


@router.post("/webhooks/rest/webhook")
async def rest_webhook(request: Request):
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _error(413, f"request body over {MAX_BODY_BYTES} bytes")
    try:
        msg = RestMessage.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "body"
        return _error(400, f"invalid request: {where}: {first['msg']}")
    metadata = msg.metadata or {}
    message_id = metadata.get("message_id")
    outcome = await request.app.state.pipeline.handle(
        Inbound(
            channel="rest",
            user_id=msg.sender,
            text=msg.message,
            external_id=str(message_id)[:128] if message_id is not None else None,
        )
    )
    return _rasa_format(msg.sender, outcome.replies)
