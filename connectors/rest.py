"""A REST channel compatible with Rasa's, so existing Rasa REST clients work unchanged.

POST /webhooks/rest/webhook  {"sender": "...", "message": "...", "metadata": {...}}
  (Content-Type: application/json, else 415; a message of at most 10,000 characters, else 400)
  -> 200 [{"recipient_id": "...", "text": "...", "buttons": [...]}, ...]
  `?stream=true`: the same messages as Rasa streams them, one JSON object a line
  (newline-delimited, content type text/event-stream), which Rasa's own `rasa shell` reads.
  `?markup=plain`: texts and button titles without the answers' marks (a Danish term is
  written `*sundhedskort*`, bot/core/markup.py); by default they come as they are, which
  clients that render Markdown (Rasa Webchat) show in italics.
`metadata.message_id`, when given, makes a retried request idempotent.

GET /webhooks/rest/outbox?sender=...  -> the same list format, for messages no answer carried
  (a counsellor's reply, an answer given after an outage); each is returned once. It needs
  the header `X-Outbox-Token` (401 without): a secret for this sender, handed out once, in
  the `X-Outbox-Token` header of the answer to her first message, so that nobody who guesses
  a sender id can take the replies meant for her. After erasure ("delete my data") her next
  first message gets a new one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from bot.core import markup
from bot.core.pipeline import Inbound, Pipeline
from bot.storage.models import Contact
from connectors import webhook

log = logging.getLogger(__name__)
router = APIRouter()
MAX_BODY_BYTES = 256 * 1024
MAX_MESSAGE_CHARS = 10_000
TOKEN_HEADER = "X-Outbox-Token"


class RestMessage(BaseModel):
    sender: str = Field(min_length=1, max_length=128)
    # Up to this, a long message is cut at max_message_chars (2,000) with a notice; beyond,
    # refused: the danger screen reads every character, on the event loop, and a
    # 100,000-character message held the whole gateway for about a minute.
    message: str = Field(default="", max_length=MAX_MESSAGE_CHARS)
    metadata: dict | None = None


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status)


# -- the routes' OpenAPI description (they read their raw body: FastAPI cannot) ------------
_REPLIES = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["recipient_id", "text"],
        "properties": {
            "recipient_id": {"type": "string"},
            "text": {"type": "string"},
            "buttons": {"type": "array", "items": {"type": "object"}},
        },
    },
}
_FLAGS = [
    {"name": "stream", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "markup", "in": "query", "required": False, "schema": {"type": "string"}},
]
_TOKEN_OUT = {
    TOKEN_HEADER: {
        "description": "the outbox secret, on the answer to her first message only",
        "schema": {"type": "string"},
    }
}


@router.get("/webhooks/rest/")
async def rest_health() -> dict:
    return {"status": "ok"}


def _rasa_format(sender: str, replies, plain: bool = False) -> list[dict]:
    show = markup.strip if plain else (lambda text: text)
    out = []
    for r in replies:
        item: dict = {"recipient_id": sender, "text": show(r.text)}
        if r.buttons:
            item["buttons"] = [
                {**b, "title": show(b["title"])} if isinstance(b.get("title"), str) else b
                for b in r.buttons
            ]
        out.append(item)
    return out


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() == "true"  # as Rasa's bool_arg


def _plain(request: Request) -> bool:
    return request.query_params.get("markup", "").lower() == "plain"


# -- the outbox's secret ---------------------------------------------------------------------
def _contact(pipeline: Pipeline, sender: str) -> Contact | None | Exception:
    """Her contact, None, or the database's error (she is answered all the same)."""
    uhash = pipeline.user_hash("rest", sender)
    try:
        with pipeline.sessions() as db:
            return db.scalar(
                select(Contact).where(Contact.channel == "rest", Contact.user_hash == uhash)
            )
    except Exception as exc:
        log.warning("could not look up a REST contact: %s", exc.__class__.__name__)
        return exc


def _token(pipeline: Pipeline, contact: Contact) -> str:
    """Derived from the contact's random conversation key: a new contact (after erasure) has
    a new one, and nothing needs storing."""
    key = pipeline.settings.hash_key.encode()
    message = f"rest-outbox:{contact.id}:{contact.conversation_key}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:40]


@router.get(
    "/webhooks/rest/outbox",
    summary="Messages no answer carried, each returned once",
    openapi_extra={
        "parameters": [
            {
                "name": "sender",
                "in": "query",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 128},
            },
            {
                "name": TOKEN_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            },
            _FLAGS[1],
        ]
    },
    responses={
        200: {
            "description": "her waiting messages",
            "content": {"application/json": {"schema": _REPLIES}},
        },
        **webhook.error_responses(400, 401, 503),
    },
)
async def rest_outbox(request: Request):
    sender = request.query_params.get("sender", "")
    if not 1 <= len(sender) <= 128:
        return _error(400, "sender is required (1 to 128 characters)")
    pipeline = request.app.state.pipeline
    given = request.headers.get(TOKEN_HEADER.lower(), "")
    contact = _contact(pipeline, sender) if given else None
    if isinstance(contact, Exception):
        return _error(503, "temporarily unavailable")
    if contact is None or not hmac.compare_digest(
        given.encode(), _token(pipeline, contact).encode()
    ):
        return _error(401, f"{TOKEN_HEADER} required: the one the answer to her first message had")
    return _rasa_format(sender, pipeline.fetch_waiting("rest", sender), _plain(request))


@router.post(
    "/webhooks/rest/webhook",
    summary="Rasa's REST channel",
    openapi_extra={**webhook.json_body(RestMessage.model_json_schema()), "parameters": _FLAGS},
    responses={
        200: {
            "description": "the replies (one JSON object a line with ?stream=true)",
            "headers": _TOKEN_OUT,
            "content": {
                "application/json": {"schema": _REPLIES},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        },
        **webhook.error_responses(400, 413, 415),
    },
)
async def rest_webhook(request: Request):
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _error(413, f"request body over {MAX_BODY_BYTES} bytes")
    if not webhook.is_json(request):
        return webhook.not_json()
    try:
        msg = RestMessage.model_validate(webhook.loads(body))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "body"
        return _error(400, f"invalid request: {where}: {first['msg']}")
    except ValueError as exc:
        return _error(400, f"invalid request: body: {exc}"[:200])
    metadata = msg.metadata or {}
    message_id = metadata.get("message_id")
    pipeline: Pipeline = request.app.state.pipeline
    outcome = await pipeline.handle(
        Inbound(
            channel="rest",
            user_id=msg.sender,
            text=msg.message,
            external_id=str(message_id)[:128] if message_id is not None else None,
        )
    )
    headers: dict[str, str] = {}
    if outcome.first and outcome.stored and not outcome.erased:  # her first message: the secret
        contact = _contact(pipeline, msg.sender)
        if isinstance(contact, Contact):
            headers[TOKEN_HEADER] = _token(pipeline, contact)
    replies = _rasa_format(msg.sender, outcome.replies, _plain(request))
    if _flag(request, "stream"):
        # Rasa's stream: one message a line, as Rasa writes them (json.dumps, ASCII-escaped)
        lines = [json.dumps(item) + "\n" for item in replies]
        return StreamingResponse(iter(lines), media_type="text/event-stream", headers=headers)
    return JSONResponse(replies, headers=headers)
