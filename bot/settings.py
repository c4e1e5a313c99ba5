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
    database_url: str = f"sqlite:///{VAR / 'bot.db'}"
    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055"
    rasa_timeout_s: float = 15.0
    hash_key: str
    max_message_chars: int = 2000

    @property
    def local(self) -> bool:
        return self.env == "local"


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
    if env != "local" and hash_key.lower() in PLACEHOLDERS:
        raise RuntimeError("HASH_KEY must be set to a long random secret outside local mode")
    values = {
        "env": env,
        "hash_key": hash_key or _local_hash_key(),
        "host": os.environ.get("HOST", "0.0.0.0"),
        "port": int(os.environ.get("PORT", "8000")),
        "database_url": os.environ.get("DATABASE_URL") or Settings.model_fields[
            "database_url"].default,
        "rasa_url": os.environ.get("RASA_URL", "http://127.0.0.1:5005"),
        "action_server_url": os.environ.get("ACTION_SERVER_URL", "http://127.0.0.1:5055"),
    }
    return Settings(**values)
