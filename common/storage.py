"""Where the database is when DATABASE_URL is not set: one SQLite file under var/, the same
for the gateway (bot/settings.py) and the action server (knowledge/content.py)."""

from __future__ import annotations

import os
from pathlib import Path

VAR = Path(__file__).resolve().parent.parent / "var"
DEFAULT_DATABASE_URL = f"sqlite:///{VAR / 'bot.storage.db'}"


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
