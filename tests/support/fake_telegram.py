"""A fake Telegram Bot API on loopback, speaking its real wire format.

Requests arrive as python-telegram-bot sends them (form fields, nested objects as JSON
strings) at /bot<token>/<method>; answers are {"ok": true, "result": ...} with objects built
by python-telegram-bot's own classes, and errors are {"ok": false, "error_code", "description",
"parameters"} as the Bot API sends them. Updates for the gateway are built the same way.

A test can queue failures (`fail_next`) and updates for getUpdates (`updates`), and reads
what "arrived in the chat" from `sent`.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import threading
import time
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from telegram import CallbackQuery, Chat, Message, PhotoSize, Update, User, Voice

BOT = User(id=7000001, is_bot=True, first_name="Orientation", username="orientation_bot")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class FakeTelegram:
    def __init__(self, token: str = "123456:TEST-token"):
        self.token = token
        self.sent: list[dict] = []  # sendMessage calls that succeeded
        self.callback_answers: list[str] = []
        self.webhook: dict | None = None
        self.webhook_deleted = 0
        self.fail_next: list[tuple[int, str, int | None]] = []  # (code, description, retry_after)
        self.updates: list[dict] = []  # for getUpdates
        self.calls: list[str] = []
        # clear it to hold every sendMessage until it is set again (a send in flight);
        # `sends_waiting` counts the held ones
        self.sends_open = threading.Event()
        self.sends_open.set()
        self.sends_waiting = 0
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(500_000)
        self.app = FastAPI()
        self.app.add_api_route("/bot{token}/{method}", self._dispatch, methods=["GET", "POST"])

    # -- building updates, as Telegram sends them ------------------------------------------
    def user(self, chat_id: int, language_code: str | None = None) -> User:
        return User(id=chat_id, is_bot=False, first_name="F", language_code=language_code)

    def text_update(
        self, chat_id: int, text: str, language_code: str | None = None, chat_type: str = "private"
    ) -> dict:
        message = Message(
            message_id=next(self._message_ids),
            date=_now(),
            chat=Chat(id=chat_id, type=chat_type),
            from_user=self.user(chat_id, language_code),
            text=text,
        )
        return Update(update_id=next(self._update_ids), message=message).to_dict()

    def command_update(self, chat_id: int, command: str) -> dict:
        """A command as Telegram sends it: its text marked as a bot_command entity."""
        update = self.text_update(chat_id, command)
        length = len(command.split(maxsplit=1)[0].encode("utf-16-le")) // 2
        update["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return update

    def voice_update(self, chat_id: int) -> dict:
        message = Message(
            message_id=next(self._message_ids),
            date=_now(),
            chat=Chat(id=chat_id, type="private"),
            from_user=self.user(chat_id),
            voice=Voice(file_id="AwACAgQ", file_unique_id="AgAD", duration=4),
        )
        return Update(update_id=next(self._update_ids), message=message).to_dict()

    def photo_update(self, chat_id: int, caption: str | None = None) -> dict:
        message = Message(
            message_id=next(self._message_ids),
            date=_now(),
            chat=Chat(id=chat_id, type="private"),
            from_user=self.user(chat_id),
            photo=[PhotoSize(file_id="AgACAgQ", file_unique_id="AQAD", width=960, height=1280)],
            caption=caption,
        )
        return Update(update_id=next(self._update_ids), message=message).to_dict()

    def callback_update(self, chat_id: int, data: str, on_message_id: int = 1) -> dict:
        message = Message(
            message_id=on_message_id,
            date=_now(),
            chat=Chat(id=chat_id, type="private"),
            from_user=BOT,
            text="…",
        )
        query = CallbackQuery(
            id=str(next(self._update_ids)),
            from_user=self.user(chat_id),
            chat_instance="ci-1",
            message=message,
            data=data,
        )
        return Update(update_id=next(self._update_ids), callback_query=query).to_dict()

    def chat(self, chat_id: int) -> list[dict]:
        return [m for m in self.sent if int(m["chat_id"]) == chat_id]

    # -- the API ------------------------------------------------------------------------------
    async def _dispatch(self, token: str, method: str, request: Request):
        if token != self.token:
            return self._error(401, "Unauthorized")
        params = await _params(request)
        self.calls.append(method)
        if method == "sendMessage" and not self.sends_open.is_set():
            self.sends_waiting += 1
            while not self.sends_open.is_set():
                await asyncio.sleep(0.01)
            self.sends_waiting -= 1
        if method == "sendMessage" and self.fail_next:
            code, description, retry_after = self.fail_next.pop(0)
            return self._error(code, description, retry_after)
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        return await handler(params)

    @staticmethod
    def _ok(result) -> dict:
        return {"ok": True, "result": result}

    @staticmethod
    def _error(code: int, description: str, retry_after: int | None = None) -> JSONResponse:
        body = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return JSONResponse(body, status_code=code)

    async def _getMe(self, params):
        return self._ok(BOT.to_dict())

    async def _sendMessage(self, params):
        text = params.get("text", "")
        # the limits count what she sees: "1-4096 characters after entities parsing"
        shown = _shown(text) if params.get("parse_mode") == "HTML" else text
        if not shown.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(shown) > 4096:
            return self._error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                if len(button.get("callback_data", "").encode()) > 64:
                    return self._error(400, "Bad Request: BUTTON_DATA_INVALID")
        record = {
            "chat_id": int(params["chat_id"]),
            "text": text,
            "parse_mode": params.get("parse_mode"),
            "reply_markup": markup,
            "message_id": next(self._message_ids),
            "at": time.monotonic(),
        }
        self.sent.append(record)
        message = Message(
            message_id=record["message_id"],
            date=_now(),
            from_user=BOT,
            chat=Chat(id=record["chat_id"], type="private"),
            text=text,
        )
        return self._ok(message.to_dict())

    async def _answerCallbackQuery(self, params):
        if not params.get("callback_query_id"):  # as the Bot API answers an empty id
            return self._error(400, "Bad Request: query ID is invalid")
        self.callback_answers.append(params["callback_query_id"])
        return self._ok(True)

    async def _setWebhook(self, params):
        self.webhook = dict(params)
        return self._ok(True)

    async def _deleteWebhook(self, params):
        self.webhook = None
        self.webhook_deleted += 1
        return self._ok(True)

    async def _getUpdates(self, params):
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        while True:
            ready = [u for u in self.updates if u["update_id"] >= offset]
            if ready or time.monotonic() >= deadline:
                # Telegram forgets updates below the offset once it is confirmed
                self.updates = ready
                return self._ok(ready[:100])
            await asyncio.sleep(0.05)


def _shown(html_text: str) -> str:
    """A parse_mode HTML text as it shows: tags gone, entities (&lt;) one character each."""
    return html.unescape(re.sub(r"</?[a-z]+>", "", html_text))


async def _params(request: Request) -> dict:
    """python-telegram-bot posts form fields (urlencoded, nested objects as JSON strings);
    other clients may post JSON. Both are accepted, as by the Bot API."""
    if request.headers.get("content-type", "").startswith("application/json"):
        return await request.json()
    form = dict(parse_qsl((await request.body()).decode()))
    params = {}
    for key, value in form.items():
        try:
            params[key] = json.loads(value) if key in ("reply_markup", "allowed_updates") else value
        except ValueError:
            params[key] = value
    return params
