"""Typed settings, read once from the environment. Secrets never have defaults outside local
mode: `APP_ENV=production` refuses to start with a missing or placeholder secret."""

from __future__ import annotations

import base64
import os
import secrets
import time
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from common.storage import DEFAULT_DATABASE_URL

REPO = Path(__file__).resolve().parent.parent
VAR = REPO / "var"
PLACEHOLDERS = {"", "changeme", "change-me", "secret", "xxx"}


class Settings(BaseModel):
    env: str = "local"
    host: str = "0.0.0.0"
    port: int = 8000
    database_url: str = DEFAULT_DATABASE_URL
    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055"
    rasa_timeout_s: float = 15.0
    hash_key: str
    max_message_chars: int = 2000
    # Messages from one woman per minute beyond which they are kept but not answered (she is
    # told once); danger is always answered. 0: no limit.
    rate_limit_per_minute: int = 20
    # The privacy notice at the end of her first answer (and on /privacy). An organisation
    # that tells her another way may switch it off: PRIVACY_NOTICE=off.
    privacy_notice: bool = True

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

    # Replay windows (connectors/telegram.py, connectors/whatsapp.py): a webhook message
    # written longer ago than this is refused (200, nothing done). Telegram keeps an
    # undelivered update 24 hours, Meta retries a notification for up to 7 days.
    telegram_replay_window_s: int = 26 * 3600
    whatsapp_replay_window_s: int = 7 * 24 * 3600

    delivery_max_attempts: int = 8  # then the message is marked failed
    delivery_backoff_s: float = 2.0  # first retry after this, doubling, at most 5 min
    # A row `sending` for longer than this was claimed by a gateway that died mid-send, and is
    # queued again (by any gateway, at start and every few seconds). It must exceed the
    # longest send (15 s HTTP timeout plus pacing); shorter, a slow send may go out twice.
    delivery_claim_timeout_s: float = 300.0

    # Privacy at rest (bot/storage/crypto.py, bot/storage/retention.py). data_keys: Fernet
    # keys, comma-separated, the first encrypts and all decrypt; "" on a Settings made in
    # code means "as get_settings() finds them".
    data_keys: str = ""
    retention_days: int = 30  # her data is deleted this long after her last message

    # Proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client; from
    # anyone else the header is ignored. "" (default): none, the peer is the client.
    trusted_proxies: str = ""

    # Counsellor workspace (bot/workspace/held.py): while a counsellor holds her case the bot
    # is silent; her first message that waits this long for an answer gets one short "your
    # counsellor has your message" (HELD_NOTICE_AFTER_S).
    held_notice_after_s: float = 180.0
    # GET /metrics (bot/core/metrics.py): with a token, for a Prometheus elsewhere that sends
    # it as a bearer token; without one, answered to this machine only
    metrics_token: str = ""

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


def _local_data_key() -> str:
    """A random Fernet key kept in var/, like the hash key: local data stays readable."""
    path = VAR / "data.key"
    if not path.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: never overwrite the key Rasa's tracker store (nlu/) has just made
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    for _ in range(50):  # the other process may be writing it this moment
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.1)
    raise RuntimeError(f"{path} is empty")


def _privacy_values(env: str) -> dict:
    """DATA_KEYS and RETENTION_DAYS; outside local mode a missing or placeholder key refuses."""
    keys = [k.strip() for k in os.environ.get("DATA_KEYS", "").split(",") if k.strip()]
    if env != "local" and (not keys or any(k.lower() in PLACEHOLDERS for k in keys)):
        raise RuntimeError(
            "DATA_KEYS must be set outside local mode: Fernet keys, comma-separated, that "
            "encrypt her messages at rest (see README, Keys)"
        )
    for key in keys:
        try:
            ok = len(base64.urlsafe_b64decode(key.encode())) == 32
        except ValueError:
            ok = False
        if not ok:
            raise RuntimeError(
                "DATA_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)"
            )
    days = int(os.environ.get("RETENTION_DAYS", "30"))
    if days < 1:
        raise RuntimeError("RETENTION_DAYS must be at least 1")
    return {"data_keys": ",".join(keys) or _local_data_key(), "retention_days": days}


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
        "rate_limit_per_minute": int(os.environ.get("RATE_LIMIT_PER_MINUTE", "20")),
        "privacy_notice": os.environ.get("PRIVACY_NOTICE", "on").lower() not in ("off", "0"),
        **channel_values,
    }
    values.update(_privacy_values(env))
    values["trusted_proxies"] = os.environ.get("TRUSTED_PROXIES", "").strip()
    values["held_notice_after_s"] = float(os.environ.get("HELD_NOTICE_AFTER_S", "180"))
    values["delivery_claim_timeout_s"] = float(os.environ.get("DELIVERY_CLAIM_TIMEOUT_S", "300"))
    values["metrics_token"] = os.environ.get("METRICS_TOKEN", "").strip()
    return Settings.model_validate(values)
