"""The gateway the fuzzing suites attack: the real app over real HTTP on loopback, with its
delivery worker, the real database (SQLite, or PostgreSQL with FUZZ_DATABASE=postgres), a
scripted Rasa and action server, and fake Bot API and Graph API servers in the platforms'
wire formats. Every channel is on, with known secrets, so a fuzzed request can be given the
secret or signature a real platform would send and reach the parser behind it.

One gateway serves a whole session (starting one takes seconds); each fuzzed message uses a
woman of its own (a sender, chat or number nobody else uses), so cases never depend on one
another.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections import Counter
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.referrals import create_case
from bot.settings import Settings
from bot.storage.db import make_engine
from bot.storage.models import Contact, Message
from bot.workspace import auth
from tests.support.fake_whatsapp import PHONE_NUMBER_ID, FakeWhatsApp

HASH_KEY = "fuzz-hash-key"
TELEGRAM_SECRET = "fuzz-telegram-secret"
WHATSAPP_SECRET = "fuzz-app-secret"
VERIFY_TOKEN = "fuzz-verify-token"
TELEGRAM_TOKEN = "123456:FUZZ-token"
WHATSAPP_TOKEN = "EAAG-fuzz-token"


def settings(database_url: str, rasa_url: str, action_url: str, tg_url: str, wa_url: str):
    return Settings(
        hash_key=HASH_KEY,
        database_url=database_url,
        rasa_url=rasa_url,
        action_server_url=action_url,
        rasa_timeout_s=5,
        telegram_mode="webhook",
        telegram_token=TELEGRAM_TOKEN,
        telegram_secret=TELEGRAM_SECRET,
        telegram_api_url=tg_url,
        whatsapp_token=WHATSAPP_TOKEN,
        whatsapp_phone_number_id=PHONE_NUMBER_ID,
        whatsapp_app_secret=WHATSAPP_SECRET,
        whatsapp_verify_token=VERIFY_TOKEN,
        whatsapp_api_url=wa_url,
        delivery_backoff_s=0.2,
    )


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(WHATSAPP_SECRET.encode(), body, hashlib.sha256).hexdigest()


class World:
    """The running gateway, its fakes and its database, with what the suites count."""

    def __init__(self, url: str, app, database_url: str, rasa, telegram, whatsapp: FakeWhatsApp):
        self.url, self.app, self.database_url = url, app, database_url
        self.rasa, self.tg, self.wa = rasa, telegram, whatsapp
        self.engine = make_engine(database_url)
        self.http = httpx.Client(base_url=url, timeout=30)  # kept alive, as platforms do
        self.ids = itertools.count(1)
        self.statuses: Counter[str] = Counter()  # "POST /webhooks/telegram 200": cases
        self.server_errors: list[str] = []
        self.api_token = ""
        self.case_ids: list[int] = []

    def db(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def count(self, label: str, status: int) -> None:
        self.statuses[f"{label} {status}"] += 1
        if status >= 500:
            self.server_errors.append(f"{label} {status}")

    # -- the workspace API: a token and a few cases for it to act on ------------------------
    def seed_workspace(self) -> None:
        with self.db() as db:
            admin = auth.create_user(
                db, "fuzz-admin", "a long fuzzing password", role="admin", languages="ar,da,en"
            )
            self.api_token = auth.create_token(db, admin, "fuzz")
            for language in ("ar", "da", "en"):
                contact = Contact(channel="rest", user_hash=f"fuzz-{language}", language=language)
                db.add(contact)
                db.flush()
                db.add(
                    Message(contact_id=contact.id, direction="in", text="hjælp", language=language)
                )
                case = create_case(db, contact, topic="violence", language=language)
                self.case_ids.append(case.case_id)
            db.commit()

    def outbox_pair(self) -> tuple[str, str]:
        """A REST sender and the outbox token her first answer carried."""
        if not hasattr(self, "_outbox"):
            r = self.rest("fuzz-outbox", "hello")
            assert r.status_code == 200, r.text
            self._outbox = ("fuzz-outbox", r.headers["x-outbox-token"])
        return self._outbox

    # -- her messages, as each channel sends them --------------------------------------------
    def rest(self, sender: str, text: str) -> httpx.Response:
        # json.dumps escapes what UTF-8 cannot carry (a lone surrogate), as clients do
        body = json.dumps({"sender": sender, "message": text}).encode()
        return self.http.post(
            "/webhooks/rest/webhook", content=body, headers={"content-type": "application/json"}
        )

    def telegram(self, update: dict) -> httpx.Response:
        return self.http.post(
            "/webhooks/telegram",
            content=json.dumps(update).encode(),
            headers={
                "content-type": "application/json",
                "x-telegram-bot-api-secret-token": TELEGRAM_SECRET,
            },
        )

    def whatsapp(self, notification: dict) -> httpx.Response:
        body = json.dumps(notification).encode()
        headers = {"content-type": "application/json", "x-hub-signature-256": sign(body)}
        return self.http.post("/webhooks/whatsapp", content=body, headers=headers)

    def telegram_text(self, chat_id: int, text: str, **message) -> dict:
        """An update as Telegram sends a private message (extra fields: a photo, a voice...)."""
        n = next(self.ids)
        return {
            "update_id": n,
            "message": {
                "message_id": n,
                "date": int(datetime.now(UTC).timestamp()),
                "chat": {"id": chat_id, "type": "private", "first_name": "F"},
                "from": {"id": chat_id, "is_bot": False, "first_name": "F"},
                **({"text": text} if text is not None else {}),
                **message,
            },
        }

    # -- what was kept -----------------------------------------------------------------------
    def inbound(self, channel: str, user_id: str) -> list[Message]:
        """Her stored messages, oldest first."""
        uhash = self.app.state.pipeline.user_hash(channel, user_id)
        with self.db() as db:
            return list(
                db.scalars(
                    select(Message)
                    .join(Contact)
                    .where(
                        Contact.channel == channel,
                        Contact.user_hash == uhash,
                        Message.direction == "in",
                    )
                    .order_by(Message.id)
                )
            )

    def replies_to(self, message_id: int) -> list[Message]:
        with self.db() as db:
            return list(
                db.scalars(
                    select(Message).where(Message.reply_to_id == message_id).order_by(Message.id)
                )
            )

    def messages_in(self) -> int:
        with self.engine.connect() as conn:
            query = select(func.count()).select_from(Message).where(Message.direction == "in")
            return conn.execute(query).scalar_one()
