"""Telegram, through python-telegram-bot's Bot and its objects.

In:  webhook mode -- POST /webhooks/telegram, refused unless X-Telegram-Bot-Api-Secret-Token
     matches TELEGRAM_SECRET; the webhook is registered on start (setWebhook with that secret)
     when TELEGRAM_WEBHOOK_URL is set, and removed on shutdown. Polling mode -- getUpdates in
     a loop, for a developer without a public address. Both hand each Update to `handle_update`.
Out: TelegramChannel, used by bot/core/delivery.py: HTML parse mode with everything escaped
     except the answers' own marks (bot/core/markup.py: a Danish term `*sundhedskort*` in
     <i>, `**bold**` in <b>), long answers split at sentence ends under Telegram's 4,096
     characters, buttons as an inline keyboard whose callback data is a short reference to the
     stored message (callback data may hold only 64 bytes; our payloads are longer).

Only private chats are served: in a group, other people would read her questions. Nothing
from a bot is answered. A photo's (or document's) caption is her text: she often photographs
a letter and asks about it in the caption. An update whose fields have the wrong types
(Telegram never sends one) is refused with 400 before anything is stored; `UPDATE_SCHEMA` is
the same rule in the OpenAPI schema. A message (or edit) older than TELEGRAM_REPLAY_WINDOW_S
(26 h: Telegram keeps an undelivered update 24 h) is a replay: 200, nothing done.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import os
import re
import time

os.environ.setdefault("PTB_TIMEDELTA", "1")  # RetryAfter.retry_after as a timedelta
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.core import markup
from bot.core.channel import Outgoing, SendError
from bot.core.delivery import send_unstored
from bot.core.pacing import RateLimit
from bot.core.pipeline import PRIVACY, Inbound, Pipeline
from bot.core.textsplit import split_text
from connectors import webhook

log = logging.getLogger(__name__)
router = APIRouter()
MAX_BODY_BYTES = 1024 * 1024
TEXT_LIMIT = 4000  # Telegram's limit is 4,096 characters after entity parsing

# Commands -> what the pipeline and Rasa understand. Buttons and commands reach Rasa as
# intents, so they work whatever language her phone is set to. Telegram's command menu may
# send one as "/privacy@<bot's username>": the same command (_command).
COMMANDS = {
    "/start": "/greet",
    "/help": "/help",
    "/language": "/choose_language",
    "/human": "/request_human",
    "/delete": "/delete_data",
    "/privacy": PRIVACY,  # the pipeline answers it with the privacy notice, not Rasa
}
ALLOWED_UPDATES = ["message", "callback_query"]


def make_bot(token: str, api_url: str) -> Bot:
    api_url = api_url.rstrip("/")
    return Bot(
        token,
        base_url=f"{api_url}/bot",
        base_file_url=f"{api_url}/file/bot",
        request=HTTPXRequest(connection_pool_size=64, read_timeout=15),
        get_updates_request=HTTPXRequest(read_timeout=40),
    )


class TelegramChannel:
    """bot.core.channel.Channel for Telegram: webhook or polling in, Bot API out."""

    name = "telegram"

    def __init__(self, bot: Bot, mode: str = "webhook", webhook_url: str = "", secret: str = ""):
        self.bot, self.mode, self.webhook_url, self.secret = bot, mode, webhook_url, secret
        self.rate = RateLimit(per_second=30, per_chat_per_second=1, chat_burst=4)
        self._ready = asyncio.Lock()
        self._polling: asyncio.Task | None = None

    @classmethod
    def from_settings(cls, settings) -> TelegramChannel:
        bot = make_bot(settings.telegram_token, settings.telegram_api_url)
        return cls(
            bot, settings.telegram_mode, settings.telegram_webhook_url, settings.telegram_secret
        )

    async def start(self, pipeline: Pipeline, wake) -> None:
        if self.mode == "polling":
            self._polling = asyncio.create_task(poll(pipeline, self, wake))
        elif self.webhook_url:
            await register_webhook(self, self.webhook_url, self.secret)

    async def stop(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
        elif self.mode == "webhook" and self.webhook_url:
            await unregister_webhook(self)
        await self.close()

    def may_send_now(self, last_inbound_at, now) -> bool:
        return True  # a bot may write to a private chat at any time

    async def send_waiting_notice(self, address: str, language: str) -> str | None:
        return None  # never needed: may_send_now is always true

    async def ensure_ready(self) -> None:
        async with self._ready:
            if not self.bot._bot_initialized:  # getMe once; also checks the token
                await self.bot.initialize()

    async def send(self, address: str, out: Outgoing) -> str:
        parts = [p for p in split_text(out.text, TEXT_LIMIT) if p] or ["…"]  # text required
        keyboard = None
        if out.buttons:
            keyboard = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            markup.strip(b.get("title", "?"))[:64],
                            callback_data=f"b:{out.message_id}:{i}",
                        )
                    ]
                    for i, b in enumerate(out.buttons)
                ]
            )
        first_id = None
        try:
            await self.ensure_ready()
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                sent = await self.bot.send_message(
                    chat_id=int(address),
                    text=html_text(part),
                    parse_mode="HTML",
                    reply_markup=keyboard if last else None,
                )
                first_id = first_id or sent.message_id
        except RetryAfter as exc:
            retry = exc.retry_after
            seconds = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
            raise SendError(
                f"telegram rate limit: retry after {seconds:.0f} s", retry_after=seconds
            ) from exc
        except Forbidden as exc:  # she blocked the bot or deleted the chat
            raise SendError(f"telegram refused: {exc.message}", retryable=False) from exc
        except BadRequest as exc:
            raise SendError(f"telegram bad request: {exc.message}", retryable=False) from exc
        except (NetworkError, TelegramError) as exc:  # TimedOut is a NetworkError
            raise SendError(f"telegram unreachable: {exc}") from exc
        return f"tg:{first_id}"

    async def answer_callback(self, callback_id: str) -> None:
        try:
            await self.ensure_ready()
            await self.bot.answer_callback_query(callback_id)
        except TelegramError as exc:  # the spinner on her button stops by itself later
            log.info("could not answer a callback query: %s", exc)

    async def close(self) -> None:
        if self.bot._requests_initialized:
            await self.bot.shutdown()


def html_text(text: str) -> str:
    """Text for parse_mode HTML: everything escaped, the answers' marks as <i> and <b>."""
    return markup.render(
        text,
        italic=lambda s: f"<i>{s}</i>",
        bold=lambda s: f"<b>{s}</b>",
        plain=lambda s: html.escape(s, quote=False),
    )


class Malformed(ValueError):
    pass


# Telegram's identifiers have at most 52 significant bits (safe in a double); dates are Unix
# seconds.
ID_LIMIT = 2**53 - 1
DATE_LIMIT = 2**32 - 1  # python-telegram-bot cannot build a date beyond year 9999
# What Telegram lets anyone send: 4,096 characters of text, 1,024 of caption (UTF-16 units,
# so never more code points). Longer is not from Telegram, and would cost the danger screen
# seconds per thousand characters.
TEXT_IN_LIMIT, CAPTION_LIMIT = 4096, 1024


def _int(value, low: int = -ID_LIMIT, high: int = ID_LIMIT) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _whole(obj: dict, field: str, low: int = -ID_LIMIT, high: int = ID_LIMIT) -> bool:
    """Whether obj[field] is a whole number in range; 89.0 is one (JSON has only numbers)
    and is made 89 in place, so a chat id is never stored as "89.0"."""
    value = obj.get(field)
    if isinstance(value, float) and value.is_integer() and low <= value <= high:
        obj[field] = value = int(value)
    return _int(value, low, high)


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise Malformed(what)


def _check_strings(obj: dict, where: str, *fields: str) -> None:
    """Each field, when present, is a string (null is not: Telegram leaves a field out)."""
    for field in fields:
        _check(isinstance(obj.get(field, ""), str), f"{where}.{field} must be a string")


def _check_user(user, where: str) -> None:
    _check(isinstance(user, dict), f"{where} must be an object")
    _check(_whole(user, "id"), f"{where}.id must be an integer of at most 53 bits")
    _check(isinstance(user.get("is_bot"), bool), f"{where}.is_bot must be true or false")
    _check(isinstance(user.get("first_name"), str), f"{where}.first_name must be a string")
    _check_strings(user, where, "language_code")


def _check_message(message, where: str) -> None:
    _check(isinstance(message, dict), f"{where} must be an object")
    _check(_whole(message, "message_id"), f"{where}.message_id must be an integer")
    _check(_whole(message, "date", 0, DATE_LIMIT), f"{where}.date must be Unix seconds")
    chat = message.get("chat")
    _check(isinstance(chat, dict), f"{where}.chat must be an object")
    _check(_whole(chat, "id"), f"{where}.chat.id must be an integer of at most 53 bits")
    _check(isinstance(chat.get("type"), str), f"{where}.chat.type must be a string")
    if "from" in message:
        _check_user(message["from"], f"{where}.from")
    _check_strings(message, where, "text", "caption")
    for field, limit in (("text", TEXT_IN_LIMIT), ("caption", CAPTION_LIMIT)):
        _check(len(message.get(field, "")) <= limit, f"{where}.{field} over {limit} characters")


def check_update(data) -> None:
    """Refuses (Malformed) an update whose fields this connector reads have the wrong types:
    python-telegram-bot builds its objects from whatever it is given, and a chat id of "abc"
    or a text that is a number would otherwise be stored and fail later. A field that is
    present must have its type (Telegram leaves out what it has not, it never sends null)."""
    _check(isinstance(data, dict), "not an update")
    _check(_whole(data, "update_id", 0), "update_id must be a non-negative integer")
    for field in ("message", "edited_message"):
        if field in data:
            _check_message(data[field], field)
    if "callback_query" in data:
        query = data["callback_query"]
        _check(isinstance(query, dict), "callback_query must be an object")
        _check(isinstance(query.get("id"), str), "callback_query.id must be a string")
        _check(
            isinstance(query.get("chat_instance"), str),
            "callback_query.chat_instance must be a string",
        )
        _check_user(query.get("from"), "callback_query.from")
        _check_strings(query, "callback_query", "data")
        if "message" in query:
            _check_message(query["message"], "callback_query.message")


def replayed(data: dict, window_s: float, now: float | None = None) -> bool:
    """Whether a checked update's message (or edit) was written longer ago than the window:
    Telegram gives up on an update after 24 hours, so an older one is someone replaying a
    body. A button press carries no date of its own (its message's date is when the bot
    wrote it), so it is never refused here; its stored message decides what it may do."""
    now = time.time() if now is None else now
    dates = [data[f]["date"] for f in ("message", "edited_message") if f in data]
    return any(now - date > window_s for date in dates)


_USER_SCHEMA = {
    "type": "object",
    "required": ["id", "is_bot", "first_name"],
    "properties": {
        "id": {"type": "integer", "minimum": -ID_LIMIT, "maximum": ID_LIMIT},
        "is_bot": {"type": "boolean"},
        "first_name": {"type": "string"},
        "language_code": {"type": "string"},
    },
}
_MESSAGE_SCHEMA = {
    "type": "object",
    "required": ["message_id", "date", "chat"],
    "properties": {
        "message_id": {"type": "integer", "minimum": -ID_LIMIT, "maximum": ID_LIMIT},
        "date": {"type": "integer", "minimum": 0, "maximum": DATE_LIMIT},
        "chat": {
            "type": "object",
            "required": ["id", "type"],
            "properties": {
                "id": {"type": "integer", "minimum": -ID_LIMIT, "maximum": ID_LIMIT},
                "type": {"type": "string", "examples": ["private", "group", "supergroup"]},
            },
        },
        "from": _USER_SCHEMA,
        "text": {"type": "string", "maxLength": TEXT_IN_LIMIT},
        "caption": {"type": "string", "maxLength": CAPTION_LIMIT},
    },
}
# What check_update accepts, as Telegram documents it (https://core.telegram.org/bots/api#update),
# limited to the fields this connector reads; anything else may be there too.
UPDATE_SCHEMA = {
    "type": "object",
    "required": ["update_id"],
    "properties": {
        "update_id": {"type": "integer", "minimum": 0, "maximum": ID_LIMIT},
        "message": _MESSAGE_SCHEMA,
        "edited_message": _MESSAGE_SCHEMA,
        "callback_query": {
            "type": "object",
            "required": ["id", "from", "chat_instance"],
            "properties": {
                "id": {"type": "string"},
                "from": _USER_SCHEMA,
                "chat_instance": {"type": "string"},
                "data": {"type": "string"},
                "message": _MESSAGE_SCHEMA,
            },
        },
    },
}


def _from_a_bot(user) -> bool:
    return user is None or bool(user.is_bot)


def _kind(message) -> str:
    if message.text is not None:
        return "text"
    if message.voice or message.audio or message.video_note:
        return "voice"
    if message.photo:
        return "image"
    if message.video:
        return "video"
    if message.document:
        return "document"
    if message.sticker:
        return "sticker"
    if message.location or message.venue:
        return "location"
    return "other"


def _command(text: str) -> str | None:
    word = text.split(maxsplit=1)[0].split("@", 1)[0].lower() if text.strip() else ""
    return COMMANDS.get(word) if word.startswith("/") else None


_DEEP_LINK = re.compile(r"[A-Za-z0-9_-]{1,64}")  # t.me/<bot>?start=<this> sends "/start <this>"


def _words_after(command: str, text: str) -> str:
    """What she wrote after a command ("/human he hits me"): her message too, which must be
    screened for danger and kept, not dropped for the command. A /start deep link's
    parameter is not her words."""
    parts = text.split(maxsplit=1)
    rest = parts[1].strip() if len(parts) == 2 else ""
    if command == COMMANDS["/start"] and _DEEP_LINK.fullmatch(rest):
        return ""
    return rest


async def handle_update(pipeline: Pipeline, sender: TelegramChannel, update: Update) -> bool:
    """Processes one update. Returns False when it could not be stored (the database is
    down): the caller then answers 5xx or keeps the polling offset, so Telegram delivers it
    again; she has already had the safe reply, sent directly."""
    if update.callback_query is not None:
        query = update.callback_query
        if _from_a_bot(query.from_user):
            return True
        await sender.answer_callback(query.id)
        message = query.message
        if message is None or message.chat.type != "private" or not query.data:
            return True
        chat_id = str(message.chat.id)
        payload = pipeline.button_payload("telegram", chat_id, query.data)
        if payload is None:  # an old button whose message was erased, or forged data
            return True
        inbounds = [
            Inbound(
                channel="telegram",
                user_id=chat_id,
                text=payload,
                external_id=f"cb:{query.id}",
                address=chat_id,
            )
        ]
    elif update.message is not None:
        message = update.message
        if message.chat.type != "private" or _from_a_bot(message.from_user):
            return True
        chat_id = str(message.chat.id)
        # a photo's caption is her question (kind "text"); a photo alone gets the kind reply
        caption = message.caption if message.caption and message.caption.strip() else None
        text = message.text if message.text is not None else (caption or "")
        command = _command(text)
        hint = message.from_user.language_code if message.from_user else None
        base = {"channel": "telegram", "user_id": chat_id, "address": chat_id}
        inbounds = []
        words = _words_after(command, text) if command else ""
        if words:  # first: an emergency reply must not wait behind the command's answer
            inbounds.append(
                Inbound(
                    **base,
                    text=words,
                    external_id=f"m:{message.message_id}:words",
                    language_hint=hint,
                )
            )
        inbounds.append(
            Inbound(
                **base,
                text=command or text,
                external_id=f"m:{message.message_id}",
                kind="text" if caption else _kind(message),
                language_hint=hint,
            )
        )
    else:
        return True  # edits, joins, polls...: nothing she asked
    for one in inbounds:
        outcome = await pipeline.handle(one)
        if not outcome.stored or outcome.erased:
            # nothing is queued: the database is down (the safe reply), or her contact and all
            # its messages are gone (the confirmation that they are): sent directly, once
            await send_unstored(sender, one.user_id, outcome.replies, outcome.language)
        if not outcome.stored:
            return False  # Telegram delivers the update again; what was stored is found then
    return True


@router.post(
    "/webhooks/telegram",
    summary="Telegram's webhook (X-Telegram-Bot-Api-Secret-Token required)",
    openapi_extra=webhook.json_body(UPDATE_SCHEMA),
    responses={
        200: {"description": "handled, or nothing to do (a group, a bot, a replay)"},
        **webhook.error_responses(400, 401, 404, 413, 415, 503),
    },
)
async def telegram_webhook(request: Request):
    state = request.app.state
    settings = state.settings
    if getattr(state, "telegram", None) is None or settings.telegram_mode != "webhook":
        return JSONResponse({"error": "telegram webhook is not enabled"}, status_code=404)
    token = request.headers.get("x-telegram-bot-api-secret-token", "")
    if not hmac.compare_digest(token.encode(), settings.telegram_secret.encode()):
        return JSONResponse({"error": "bad secret token"}, status_code=401)
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return JSONResponse({"error": "update too large"}, status_code=413)
    if not webhook.is_json(request):
        return webhook.not_json()
    try:
        data = webhook.loads(body)
        check_update(data)
        update = Update.de_json(data, state.telegram.bot)
    except Exception as exc:
        return JSONResponse({"error": f"malformed update: {exc}"[:200]}, status_code=400)
    if replayed(data, settings.telegram_replay_window_s):
        log.info("refused a telegram update older than the replay window")
        return {"ok": True}
    stored = await handle_update(state.pipeline, state.telegram, update)
    state.delivery.wake()
    if not stored:
        return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
    return {"ok": True}


async def register_webhook(sender: TelegramChannel, public_url: str, secret: str) -> None:
    await sender.ensure_ready()
    await sender.bot.set_webhook(
        url=f"{public_url.rstrip('/')}/webhooks/telegram",
        secret_token=secret,
        allowed_updates=ALLOWED_UPDATES,
    )
    log.info("telegram webhook registered")


async def unregister_webhook(sender: TelegramChannel) -> None:
    try:
        await sender.bot.delete_webhook()
    except TelegramError as exc:
        log.warning("could not remove the telegram webhook: %s", exc)


async def poll(pipeline: Pipeline, sender: TelegramChannel, wake, timeout_s: int = 25) -> None:
    """Long polling. The offset moves past an update only once it is stored, so a database
    outage loses nothing: the same updates come again."""
    await sender.ensure_ready()
    await sender.bot.delete_webhook()  # getUpdates refuses to run while a webhook is set
    offset = None
    while True:
        try:
            updates = await sender.bot.get_updates(
                offset=offset, timeout=timeout_s, allowed_updates=ALLOWED_UPDATES
            )
        except TelegramError as exc:
            log.warning("getUpdates failed: %s", exc)
            await asyncio.sleep(2)
            continue
        for update in updates:
            if not await handle_update(pipeline, sender, update):
                await asyncio.sleep(2)
                break
            offset = update.update_id + 1
        wake()
