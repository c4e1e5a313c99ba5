"""A fake WhatsApp Cloud API (Graph API) on loopback, in its published wire format.

POST /<version>/<phone_number_id>/messages with a Bearer token; the body is checked against
the documented limits (text body 4,096; reply buttons at most 3 with titles of at most 20 and
a body of at most 1,024; list rows at most 10 with titles of at most 24 and descriptions of
at most 72) and answered {"messaging_product": "whatsapp", "contacts": [...], "messages":
[{"id": "wamid..."}]}, or with Graph's error object. Also builds the signed webhook
notifications (messages and statuses) that Meta sends to the gateway.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

VERSION = "v21.0"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "4520000000"


class FakeWhatsApp:
    def __init__(self, token: str = "EAAG-test-token", app_secret: str = "app-secret"):
        self.token, self.app_secret = token, app_secret
        self.sent: list[dict] = []
        self.refused: list[dict] = []
        self.fail_next: list[tuple[int, int, str]] = []  # (http status, graph code, message)
        self._ids = itertools.count(1)
        self._wamids = itertools.count(1)
        self.app = FastAPI()
        self.app.add_api_route("/{version}/{phone_id}/messages", self._messages, methods=["POST"])

    def chat(self, wa_id: str) -> list[dict]:
        return [m for m in self.sent if m["to"] == wa_id]

    @staticmethod
    def _error(status: int, code: int, message: str) -> JSONResponse:
        return JSONResponse(
            {
                "error": {
                    "message": message,
                    "type": "OAuthException",
                    "code": code,
                    "error_subcode": 2494010,
                    "fbtrace_id": "AbCdEf",
                }
            },
            status_code=status,
        )

    async def _messages(self, version: str, phone_id: str, request: Request):
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._error(401, 190, "Invalid OAuth access token")
        if phone_id != PHONE_NUMBER_ID:
            return self._error(400, 100, "Unsupported post request")
        body = await request.json()
        problem = _check(body)
        if problem:
            self.refused.append(body)
            return self._error(400, 131009, f"Parameter value is not valid: {problem}")
        if self.fail_next:
            status, code, message = self.fail_next.pop(0)
            return self._error(status, code, message)
        wamid = f"wamid.HBgL{next(self._wamids):06d}"
        self.sent.append({**body, "id": wamid, "at": time.monotonic()})
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": body["to"]}],
            "messages": [{"id": wamid}],
        }

    # -- notifications, as Meta posts them ------------------------------------------------
    def _envelope(self, value: dict) -> dict:
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": DISPLAY_NUMBER,
                                    "phone_number_id": PHONE_NUMBER_ID,
                                },
                                **value,
                            },
                        }
                    ],
                }
            ],
        }

    def message(self, wa_id: str, content: dict, kind: str) -> dict:
        return self._envelope(
            {
                "contacts": [{"profile": {"name": "F"}, "wa_id": wa_id}],
                "messages": [
                    {
                        "from": wa_id,
                        "id": f"wamid.IN{next(self._ids):08d}",
                        "timestamp": str(int(time.time())),
                        "type": kind,
                        kind: content,
                    }
                ],
            }
        )

    def text(self, wa_id: str, body: str) -> dict:
        return self.message(wa_id, {"body": body}, "text")

    def button_reply(self, wa_id: str, button_id: str, title: str) -> dict:
        return self.message(
            wa_id,
            {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
            "interactive",
        )

    def list_reply(self, wa_id: str, row_id: str, title: str) -> dict:
        return self.message(
            wa_id,
            {"type": "list_reply", "list_reply": {"id": row_id, "title": title}},
            "interactive",
        )

    def status(self, wamid: str, wa_id: str, status: str, errors: list | None = None) -> dict:
        item = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": wa_id,
        }
        if errors:
            item["errors"] = errors
        return self._envelope({"statuses": [item]})

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()

    def signed(self, notification: dict) -> tuple[bytes, dict]:
        body = json.dumps(notification).encode()
        return body, {"content-type": "application/json", "x-hub-signature-256": self.sign(body)}


def _check(body: dict) -> str | None:
    if body.get("messaging_product") != "whatsapp" or not body.get("to"):
        return "messaging_product and to are required"
    kind = body.get("type")
    if kind == "text":
        text = (body.get("text") or {}).get("body", "")
        if not text or len(text) > 4096:
            return "text.body must be 1 to 4096 characters"
    elif kind == "interactive":
        interactive = body["interactive"]
        if len(interactive["body"]["text"]) > 1024:
            return "interactive body over 1024 characters"
        if interactive["type"] == "button":
            buttons = interactive["action"]["buttons"]
            if not 1 <= len(buttons) <= 3:
                return "1 to 3 buttons"
            if any(len(b["reply"]["title"]) > 20 or len(b["reply"]["id"]) > 256 for b in buttons):
                return "button title over 20 characters"
        elif interactive["type"] == "list":
            if len(interactive["action"]["button"]) > 20:
                return "list button over 20 characters"
            rows = [r for s in interactive["action"]["sections"] for r in s["rows"]]
            if not 1 <= len(rows) <= 10:
                return "1 to 10 rows"
            if any(len(r["title"]) > 24 or len(r.get("description", "")) > 72 for r in rows):
                return "row title over 24 or description over 72 characters"
        else:
            return f"unknown interactive type {interactive['type']}"
    elif kind == "template":
        if not (body.get("template") or {}).get("name"):
            return "template.name is required"
    else:
        return f"unsupported type {kind}"
    return None
