"""WhatsApp Cloud API.

In:  GET  /webhooks/whatsapp  -- Meta's verification handshake (hub.mode, hub.verify_token,
                                 hub.challenge).
     POST /webhooks/whatsapp  -- refused (401) unless X-Hub-Signature-256 is the HMAC-SHA256
                                 of the raw body under WHATSAPP_APP_SECRET. Messages go to the
                                 pipeline; status callbacks (sent, delivered, read, failed)
                                 are recorded on the outbound message.
Out: WhatsAppChannel, used by bot/core/delivery.py: text (4,096 characters a message), up to three
     reply buttons (titles of at most 20 characters, body of at most 1,024), a list message
     for four to ten choices (row titles of 24, descriptions of 72), and the configured
     template once the 24-hour window has closed. The answers' marks (bot/core/markup.py) in
     WhatsApp's own formatting: a Danish term `*sundhedskort*` as _italic_, `**bold**` as
     *bold*.

A notification whose fields have the wrong types (Meta never sends one) is refused with 400
before anything is stored (`NOTIFICATION_SCHEMA` is the same rule in the OpenAPI schema); a
photo's, video's or document's caption is her text. A message written longer ago than
WHATSAPP_REPLAY_WINDOW_S (7 days: Meta retries that long) is a replay and is skipped (200).

The sender's number is used only to reply and is stored encrypted (bot/core/outbox.py); her
WhatsApp profile name is never read.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from bot.core import markup
from bot.core.channel import Outgoing, SendError
from bot.core.delivery import record_status, send_unstored
from bot.core.pacing import RateLimit
from bot.core.pipeline import Inbound, Pipeline
from bot.core.textsplit import split_text
from connectors import webhook

log = logging.getLogger(__name__)
router = APIRouter()
MAX_BODY_BYTES = 1024 * 1024
TEXT_LIMIT = 4096
BODY_LIMIT = 1024
MEDIA_KINDS = {
    "audio": "voice",
    "voice": "voice",
    "image": "image",
    "video": "video",
    "document": "document",
    "sticker": "sticker",
    "location": "location",
    "contacts": "other",
    "unsupported": "other",
}
# Graph API error codes that mean "slow down", not "never"
RATE_LIMIT_CODES = {4, 80007, 130429, 131048, 131056}


def _shorten(text: str, limit: int) -> str:
    text = markup.strip(text)  # a button or row title shows no formatting
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def formatted(text: str) -> str:
    """The answers' marks in WhatsApp's formatting (same length or shorter)."""
    return markup.render(
        text, italic=lambda s: f"_{s}_", bold=lambda s: f"*{s}*", inside_words=False
    )


class WhatsAppChannel:
    """bot.core.channel.Channel for the WhatsApp Cloud API, with its 24-hour window."""

    name = "whatsapp"
    WINDOW = timedelta(hours=24)  # free-form messages only this long after her last one

    def __init__(
        self,
        api_url: str,
        version: str,
        phone_number_id: str,
        token: str,
        template: str = "",
        template_language: str = "en",
    ):
        self.url = f"{api_url.rstrip('/')}/{version}/{phone_number_id}/messages"
        self.template, self.template_language = template, template_language
        self.http = httpx.AsyncClient(
            timeout=15,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=64),
        )
        self.rate = RateLimit(per_second=80, per_chat_per_second=1, chat_burst=6)
        self.rate_limit_wait_s = 10.0  # Graph gives no retry time for its rate limits

    @staticmethod
    def payloads(address: str, out: Outgoing) -> list[dict]:
        """The Graph API request bodies for one stored message, in order."""
        base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": address}
        if not out.buttons:
            return [
                {**base, "type": "text", "text": {"preview_url": False, "body": formatted(part)}}
                for part in split_text(out.text, TEXT_LIMIT)
            ]
        parts = [p for p in split_text(out.text, BODY_LIMIT) if p] or ["…"]  # body required
        bodies = [
            {**base, "type": "text", "text": {"preview_url": False, "body": formatted(part)}}
            for part in parts[:-1]
        ]
        choices = out.buttons[:10]
        ids = [f"b:{out.message_id}:{i}" for i in range(len(choices))]
        if len(choices) <= 3:
            action = {
                "buttons": [
                    {
                        "type": "reply",
                        "reply": {"id": ids[i], "title": _shorten(b.get("title", "?"), 20)},
                    }
                    for i, b in enumerate(choices)
                ]
            }
            body = {"text": formatted(parts[-1])}
            interactive = {"type": "button", "body": body, "action": action}
        else:
            rows = []
            for i, b in enumerate(choices):
                title = b.get("title", "?")
                row = {"id": ids[i], "title": _shorten(title, 24)}
                if len(title) > 24:
                    row["description"] = _shorten(title, 72)
                rows.append(row)
            interactive = {
                "type": "list",
                "body": {"text": formatted(parts[-1])},
                "action": {"button": "☰", "sections": [{"title": "☰", "rows": rows}]},
            }
        bodies.append({**base, "type": "interactive", "interactive": interactive})
        return bodies

    async def _post(self, body: dict) -> str:
        try:
            response = await self.http.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise SendError(f"whatsapp unreachable: {exc.__class__.__name__}") from exc
        if response.status_code == 200:
            try:
                return response.json()["messages"][0]["id"]
            except (ValueError, KeyError, IndexError) as exc:
                raise SendError("whatsapp answered without a message id") from exc
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        code = error.get("code")
        reason = f"whatsapp {response.status_code} code {code}: {error.get('message', '')}"
        if response.status_code == 429 or code in RATE_LIMIT_CODES:
            raise SendError(reason, retry_after=self.rate_limit_wait_s)
        if response.status_code >= 500:
            raise SendError(reason)
        raise SendError(reason, retryable=False)

    async def send(self, address: str, out: Outgoing) -> str:
        first = ""
        for body in self.payloads(address, out):  # never none: text is sent even when empty
            message_id = await self._post(body)
            first = first or message_id
        return first

    @classmethod
    def from_settings(cls, settings) -> WhatsAppChannel:
        return cls(
            settings.whatsapp_api_url,
            settings.whatsapp_api_version,
            settings.whatsapp_phone_number_id,
            settings.whatsapp_token,
            settings.whatsapp_template,
            settings.whatsapp_template_language,
        )

    def may_send_now(self, last_inbound_at: datetime, now: datetime) -> bool:
        return now - last_inbound_at <= self.WINDOW

    async def send_waiting_notice(self, address: str, language: str) -> str | None:
        """The approved template that tells her a reply waits; None when none is set."""
        if not self.template:
            return None
        return await self._post(
            {
                "messaging_product": "whatsapp",
                "to": address,
                "type": "template",
                "template": {
                    "name": self.template,
                    "language": {"code": language or self.template_language},
                },
            }
        )

    async def start(self, pipeline, wake) -> None:
        return None  # webhooks are configured in Meta's dashboard, not by API

    async def stop(self) -> None:
        await self.http.aclose()


def signature_ok(body: bytes, header: str, secret: str) -> bool:
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :])


def _inbound(pipeline: Pipeline, message: dict) -> Inbound | None:
    """One checked message (_check_message) as the pipeline's Inbound; None: nothing to do."""
    sender, kind = str(message["from"]), message.get("type", "unsupported")
    base = {
        "channel": "whatsapp",
        "user_id": sender,
        "address": sender,
        "external_id": str(message["id"])[:128],
    }
    if kind == "text":
        return Inbound(text=str((message.get("text") or {}).get("body", "")), **base)
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        payload = pipeline.button_payload("whatsapp", sender, str(reply.get("id", "")))
        return Inbound(text=payload if payload is not None else str(reply.get("title", "")), **base)
    if kind == "button":  # a quick-reply button on a template
        button = message.get("button") or {}
        return Inbound(text=str(button.get("text") or button.get("payload") or ""), **base)
    if kind in ("reaction", "system", "order", "request_welcome"):
        return None  # not something she asked
    caption = (message.get(kind) or {}).get("caption") if kind in CAPTIONED else None
    if caption and caption.strip():  # her question about the photo: answered as her text
        return Inbound(text=caption, **base)
    return Inbound(kind=MEDIA_KINDS.get(kind, "other"), **base)


CAPTIONED = ("image", "video", "document")


class Malformed(ValueError):
    pass


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise Malformed(what)


def _objects(value, what: str) -> list[dict]:
    """A list of objects, or nothing when absent."""
    if value is None:
        return []
    _check(isinstance(value, list), f"{what} must be a list")
    _check(all(isinstance(item, dict) for item in value), f"{what} must hold objects")
    return value


def _strings(obj: dict, where: str, *fields: str) -> None:
    for field in fields:
        _check(isinstance(obj.get(field, ""), str), f"{where}.{field} must be a string")


# The string fields _inbound reads inside each kind of content
CONTENT_FIELDS = {
    "text": ("body",),
    "button": ("text", "payload"),
    **{kind: ("caption",) for kind in CAPTIONED},
}
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # Unix seconds, as a string
# a status report's time is stored as a datetime, which ends in year 9999: 11 digits do
_REPORT_TIME = re.compile(r"[0-9]{1,11}")


def _check_message(message: dict) -> None:
    """The fields _inbound reads, with the types the Cloud API documents. A field that is
    present must have its type, whatever the message's type (Meta leaves out what it has
    not, it never sends null)."""
    for field in ("from", "id"):
        value = message.get(field)
        _check(isinstance(value, str) and value != "", f"message.{field} must be a string")
    _strings(message, "message", "type")
    if "timestamp" in message:
        stamp = message["timestamp"]
        _check(
            isinstance(stamp, str) and _TIMESTAMP.fullmatch(stamp) is not None,
            "message.timestamp must be Unix seconds",
        )
    for kind, fields in CONTENT_FIELDS.items():
        if kind in message:
            _check(isinstance(message[kind], dict), f"message.{kind} must be an object")
            _strings(message[kind], f"message.{kind}", *fields)
    if "interactive" in message:
        interactive = message["interactive"]
        _check(isinstance(interactive, dict), "message.interactive must be an object")
        for field in ("button_reply", "list_reply"):
            if field in interactive:
                reply = interactive[field]
                _check(isinstance(reply, dict), f"{field} must be an object")
                _strings(reply, field, "id", "title")


def replayed(message: dict, window_s: float, now: float | None = None) -> bool:
    """Whether a checked message was written longer ago than the window: Meta retries a
    notification for up to 7 days, so an older one is someone replaying a body."""
    if "timestamp" not in message:
        return False
    now = time.time() if now is None else now
    return now - int(message["timestamp"]) > window_s


def _check_status(status: dict) -> None:
    _strings(status, "status", "id", "status")
    if "timestamp" in status:
        stamp = status["timestamp"]
        _check(
            isinstance(stamp, str) and _REPORT_TIME.fullmatch(stamp) is not None,
            "status.timestamp must be Unix seconds",
        )
    for error in _objects(status.get("errors"), "status.errors"):
        _strings(error, "status.errors", "title", "message")


def _written_at(status: dict) -> datetime | None:
    """When Meta wrote a checked status report: a late report written earlier loses."""
    if "timestamp" not in status:
        return None
    return datetime.fromtimestamp(int(status["timestamp"]), UTC)


def _work(data, phone_number_id: str) -> list[tuple[str, dict]]:
    """The statuses and messages of a notification for our number, checked, in order."""
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        raise Malformed("not a whatsapp_business_account notification")
    work = []
    for entry in _objects(data.get("entry"), "entry"):
        for change in _objects(entry.get("changes"), "entry.changes"):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                continue
            metadata = value.get("metadata")
            _check(metadata is None or isinstance(metadata, dict), "metadata must be an object")
            if str((metadata or {}).get("phone_number_id", "")) != phone_number_id:
                continue  # another number on the same app
            for status in _objects(value.get("statuses"), "statuses"):
                _check_status(status)
                work.append(("status", status))
            for message in _objects(value.get("messages"), "messages"):
                _check_message(message)
                work.append(("message", message))
    return work


def _objects_schema(item: dict) -> dict:
    return {"type": "array", "items": item}


def _strings_schema(*fields: str) -> dict:
    return {"type": "object", "properties": {f: {"type": "string"} for f in fields}}


_REPLY_SCHEMA = _strings_schema("id", "title")
_MESSAGE_SCHEMA = {
    "type": "object",
    "required": ["from", "id"],
    "properties": {
        "from": {"type": "string", "minLength": 1},
        "id": {"type": "string", "minLength": 1},
        "timestamp": {"type": "string", "pattern": "^[0-9]{1,12}$"},
        "type": {"type": "string", "examples": ["text", "interactive", "image", "audio"]},
        **{kind: _strings_schema(*fields) for kind, fields in CONTENT_FIELDS.items()},
        "interactive": {
            "type": "object",
            "properties": {"button_reply": _REPLY_SCHEMA, "list_reply": _REPLY_SCHEMA},
        },
    },
}
_STATUS_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string", "examples": ["sent", "delivered", "read", "failed"]},
        "timestamp": {"type": "string", "pattern": "^[0-9]{1,11}$"},
        "errors": _objects_schema(
            {
                "type": "object",
                "properties": {
                    "code": {"type": "integer"},
                    "title": {"type": "string"},
                    "message": {"type": "string"},
                },
            }
        ),
    },
}
# What _work accepts, as the Cloud API documents its notifications, limited to the fields
# this connector reads; anything else may be there too. A change for another field or
# another number is skipped (200), not refused.
NOTIFICATION_SCHEMA = {
    "type": "object",
    "required": ["object", "entry"],
    "properties": {
        "object": {"const": "whatsapp_business_account"},
        "entry": _objects_schema(
            {
                "type": "object",
                "properties": {
                    "changes": _objects_schema(
                        {
                            "type": "object",
                            "properties": {
                                "field": {"type": "string", "examples": ["messages"]},
                                "value": {
                                    "type": "object",
                                    "properties": {
                                        "metadata": _strings_schema("phone_number_id"),
                                        "messages": _objects_schema(_MESSAGE_SCHEMA),
                                        "statuses": _objects_schema(_STATUS_SCHEMA),
                                    },
                                },
                            },
                        }
                    )
                },
            }
        ),
    },
}


@router.get(
    "/webhooks/whatsapp",
    summary="Meta's verification handshake",
    response_class=PlainTextResponse,
    openapi_extra={
        "parameters": [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
            for name in ("hub.mode", "hub.verify_token", "hub.challenge")
        ]
    },
    responses={
        200: {"description": "hub.challenge", "content": {"text/plain": {"schema": {}}}},
        **webhook.error_responses(403),
    },
)
async def whatsapp_verify(request: Request):
    settings = request.app.state.settings
    params = request.query_params
    token = params.get("hub.verify_token", "")
    if (
        params.get("hub.mode") == "subscribe"
        and settings.whatsapp_verify_token
        and hmac.compare_digest(token.encode(), settings.whatsapp_verify_token.encode())
    ):
        return PlainTextResponse(params.get("hub.challenge", ""))
    return JSONResponse({"error": "verification failed"}, status_code=403)


@router.post(
    "/webhooks/whatsapp",
    summary="The Cloud API's webhook (X-Hub-Signature-256 required)",
    openapi_extra=webhook.json_body(NOTIFICATION_SCHEMA),
    responses={
        200: {"description": "handled, or nothing to do (another number, a replay)"},
        **webhook.error_responses(400, 401, 404, 413, 415, 503),
    },
)
async def whatsapp_webhook(request: Request):
    state = request.app.state
    settings = state.settings
    if getattr(state, "whatsapp", None) is None:
        return JSONResponse({"error": "whatsapp is not enabled"}, status_code=404)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return JSONResponse({"error": "notification too large"}, status_code=413)
    if not signature_ok(
        body, request.headers.get("x-hub-signature-256", ""), settings.whatsapp_app_secret
    ):
        return JSONResponse({"error": "bad or missing signature"}, status_code=401)
    if not webhook.is_json(request):
        return webhook.not_json()
    try:
        work = _work(webhook.loads(body), settings.whatsapp_phone_number_id)
    except ValueError as exc:  # Malformed, or not JSON at all
        return JSONResponse({"error": f"malformed notification: {exc}"[:200]}, status_code=400)

    stored_all = True
    for what, item in work:
        if what == "status":
            stored_all &= _record(state, item)
            continue
        if replayed(item, settings.whatsapp_replay_window_s):
            log.info("skipped a whatsapp message older than the replay window")
            continue
        inbound = _inbound(state.pipeline, item)
        if inbound is None:
            continue
        outcome = await state.pipeline.handle(inbound)
        stored_all &= outcome.stored  # False: the database is down
        if not outcome.stored or outcome.erased:  # nothing queued (see connectors/telegram.py)
            await send_unstored(state.whatsapp, inbound.user_id, outcome.replies, outcome.language)
    state.delivery.wake()
    if not stored_all:  # Meta delivers the notification again later
        return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
    return {"ok": True}


def _record(state, status: dict) -> bool:
    errors = status.get("errors") or []  # checked by _check_status
    detail = (
        "; ".join(f"{e.get('code')}: {e.get('title') or e.get('message', '')}" for e in errors)
        or None
    )
    at = _written_at(status)
    try:
        with state.pipeline.sessions() as db:
            found = record_status(
                db, str(status.get("id", "")), str(status.get("status", "")), detail, at
            )
            db.commit()
        if not found:
            log.info("status for an unknown message (erased, or not ours)")
        return True
    except Exception:
        log.exception("could not record a delivery status")
        return False
