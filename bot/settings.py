"""Typed settings, read once from the environment. Secrets never have defaults outside local
mode: `APP_ENV=production` refuses to start with a missing or placeholder secret."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

REPO = Path(__file__).resolve().parent.parent
VAR = REPO / "var"
PLACEHOLDERS = {"", "changeme", "change-me", "secret", "xxx"}


class Settings(BaseModel):
    env: str = "local"
    host: str = "0.0.0.0"
    port: int = 8000
    database_url: str = f"sqlite:///{VAR / 'bot.storage.db'}"
    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055"
    rasa_timeout_s: float = 15.0
    hash_key: str
    max_message_chars: int = 2000

    # Telegram: mode off | webhook | polling. Webhook mode registers
    # f"{telegram_webhook_url}/webhooks/telegram" on start when telegram_webhook_url is set.
    telegram_mode: str = "off"
    telegram_token: str = ""
    telegram_secret: str = ""  # X-Telegram-Bot-Api-Secret-Token
    telegram_webhook_url: str = ""  # public base URL of this gateway
    telegram_api_url: str = "https://api.telegram.org"

    # WhatsApp Cloud API: on when a token and phone number id are set.
    whatsapp_token: str = ""
    whatsapp_phone_number_id: str = ""
    whatsapp_app_secret: str = ""  # X-Hub-Signature-256 key
    whatsapp_verify_token: str = ""  # webhook verification handshake
    whatsapp_api_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v21.0"
    # An approved template that tells her a reply is waiting once the 24-hour window has
    # closed; the reply itself is held until she writes again. Empty: just hold it.
    whatsapp_template: str = ""
    whatsapp_template_language: str = "en"

    delivery_max_attempts: int = 8  # then the message is marked failed
    delivery_backoff_s: float = 2.0  # first retry after this, doubling, at most 5 min

    @property
    def local(self) -> bool:
        return self.env == "local"

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_mode in ("webhook", "polling") and bool(self.telegram_token)

    @property
    def whatsapp_enabled(self) -> bool:
        return bool(self.whatsapp_token and self.whatsapp_phone_number_id)


def _local_hash_key() -> str:
    """A random key kept in var/ so pseudonyms stay stable across restarts on one machine."""
    path = VAR / "hash.key"
    if not path.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ.get("APP_ENV", "local")
    hash_key = os.environ.get("HASH_KEY", "")
    if env != "local" and hash_key.strip().lower() in PLACEHOLDERS:
        raise RuntimeError("HASH_KEY must be set to a long random secret outside local mode")
    channel_values = {
        name: os.environ[name.upper()]
        for name in Settings.model_fields
        if name.startswith(("telegram_", "whatsapp_")) and name.upper() in os.environ
    }
    if (
        channel_values.get("telegram_mode", "off") == "webhook"
        and channel_values.get("telegram_secret", "").strip().lower() in PLACEHOLDERS
    ):
        raise RuntimeError(
            "TELEGRAM_SECRET must be set when TELEGRAM_MODE=webhook: it is how "
            "the gateway knows an update really comes from Telegram"
        )
    if (
        channel_values.get("whatsapp_token")
        and channel_values.get("whatsapp_app_secret", "").strip().lower() in PLACEHOLDERS
    ):
        raise RuntimeError(
            "WHATSAPP_APP_SECRET must be set with WHATSAPP_TOKEN: every webhook "
            "is checked against its signature"
        )
    values = {
        "env": env,
        "hash_key": hash_key or _local_hash_key(),
        "host": os.environ.get("HOST", "0.0.0.0"),
        "port": int(os.environ.get("PORT", "8000")),
        "database_url": os.environ.get("DATABASE_URL")
        or Settings.model_fields["database_url"].default,
        "rasa_url": os.environ.get("RASA_URL", "http://127.0.0.1:5005"),
        "action_server_url": os.environ.get("ACTION_SERVER_URL", "http://127.0.0.1:5055"),
        **channel_values,
    }
    return Settings.model_validate(values)
