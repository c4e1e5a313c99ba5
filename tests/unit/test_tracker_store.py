"""Rasa's tracker store (nlu/tracker_store.py) in the Rasa environment, each operation a fresh
Rasa process (tests/support/rasa_tracker.py) over a real database file: a half-filled handoff
form comes back after a restart, what she wrote is not readable in the file, a conversation
past the retention period is not restored, keys rotate, an emptied tracker removes her row, and
whichever of Rasa and the gateway's migration comes first makes the table."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from bot.storage.db import make_engine, migrate

REPO = Path(__file__).resolve().parents[2]
RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"
DRIVER = REPO / "tests" / "support" / "rasa_tracker.py"
SHE_WROTE = "min svigermor truer mig, jeg vil tale med en kvinde"
KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def _rasa_environment():
    if not RASA_PYTHON.exists():
        pytest.skip(f"no Rasa environment at {RASA_PYTHON} (scripts/setup.sh makes it)")


def rasa(url: str, *args: str, **env: str) -> object:
    """One run of a fresh Rasa-side process: its answer, parsed."""
    settings = {"DATA_KEYS": KEY, "APP_ENV": "local", **env}
    done = subprocess.run(
        [str(RASA_PYTHON), str(DRIVER), url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "RASA_TELEMETRY_ENABLED": "false",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            **{k: v for k, v in settings.items() if v is not None},
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def mid_form(session_start: float | None = None) -> list[dict]:
    """Her conversation with the handoff form asking its second question."""
    t = session_start or time.time()
    return [
        {"event": "action", "name": "action_session_start", "timestamp": t},
        {"event": "session_started", "timestamp": t},
        {"event": "action", "name": "action_listen", "timestamp": t + 1},
        {
            "event": "user",
            "text": SHE_WROTE,
            "parse_data": {"intent": {"name": "request_human", "confidence": 0.93}},
            "timestamp": t + 2,
        },
        {"event": "action", "name": "handoff_form", "timestamp": t + 3},
        {"event": "active_loop", "name": "handoff_form", "timestamp": t + 3},
        {"event": "slot", "name": "handoff_topic", "value": "violence", "timestamp": t + 3},
        {"event": "slot", "name": "requested_slot", "value": "handoff_woman", "timestamp": t + 3},
        {"event": "action", "name": "action_listen", "timestamp": t + 4},
    ]


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'bot.storage.db'}"


def save(url: str, sender: str, events: list[dict], **env: str) -> None:
    rasa(url, "save", sender, json.dumps(events), **env)


def retrieve(url: str, sender: str, **env: str) -> dict | None:
    return rasa(url, "retrieve", sender, **env)  # type: ignore[return-value]


def rows(url: str) -> dict[str, tuple[datetime, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(text("select sender_id, updated_at, data from rasa_trackers"))
        result = {s: (u, d) for s, u, d in found}
    engine.dispose()
    return result


def age(url: str, sender: str, days: float) -> None:
    """Makes her last save `days` old, as if she had not written since."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("update rasa_trackers set updated_at = :t where sender_id = :s"),
            {"t": datetime.now(UTC) - timedelta(days=days), "s": sender},
        )
    engine.dispose()


def test_a_half_filled_form_comes_back_in_a_new_rasa_process(db):
    save(db, "conv-1", mid_form())
    state = retrieve(db, "conv-1")
    assert state is not None
    assert state["active_loop"]["name"] == "handoff_form"
    assert state["slots"]["handoff_topic"] == "violence"
    assert state["slots"]["requested_slot"] == "handoff_woman"
    assert state["latest_message"]["text"] == SHE_WROTE
    assert [e["event"] for e in state["events"]] == [e["event"] for e in mid_form()]


@pytest.mark.postgres
def test_the_same_on_postgresql_through_the_gateways_url(postgres_url):
    """The gateway's URL names psycopg 3; the Rasa environment reaches it through psycopg2."""
    assert postgres_url.startswith("postgresql+psycopg://")
    save(postgres_url, "conv-pg", mid_form())
    state = retrieve(postgres_url, "conv-pg")
    assert state and state["slots"]["handoff_topic"] == "violence"
    stored = rows(postgres_url)["conv-pg"][1]
    assert SHE_WROTE not in stored and "handoff" not in stored


def test_what_she_wrote_is_not_in_the_database_file(db, tmp_path):
    save(db, "conv-2", mid_form())
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("bot.storage.db*"))
    assert b"conv-2" in raw, "the row is there"
    for plain in (SHE_WROTE, "svigermor", "handoff_topic", "violence"):
        assert plain.encode() not in raw, plain
    assert Fernet(KEY.encode()).decrypt(rows(db)["conv-2"][1].encode()).find(b"svigermor") > 0


def test_a_conversation_past_the_retention_period_is_not_restored(db):
    save(db, "conv-old", mid_form())
    save(db, "conv-new", mid_form())
    age(db, "conv-old", days=31)
    assert retrieve(db, "conv-old") is None, "31 days under the default 30"
    assert rasa(db, "keys") == ["conv-new"]
    assert retrieve(db, "conv-old", RETENTION_DAYS="60")["slots"]["handoff_topic"] == "violence"
    assert retrieve(db, "conv-new")["active_loop"]["name"] == "handoff_form"


def test_only_her_current_session_comes_back(db):
    earlier = mid_form(session_start=time.time() - 7200)
    now = time.time()
    later = [
        {"event": "action", "name": "action_session_start", "timestamp": now},
        {"event": "session_started", "timestamp": now},
        {"event": "slot", "name": "handoff_topic", "value": "violence", "timestamp": now},
        {"event": "action", "name": "action_listen", "timestamp": now},
    ]
    save(db, "conv-3", earlier + later)
    state = retrieve(db, "conv-3")
    assert state["slots"]["handoff_topic"] == "violence", "carried over into the new session"
    assert state["latest_message"]["text"] != SHE_WROTE
    assert len(state["events"]) == len(later)


def test_a_new_key_first_still_reads_rows_under_the_old_one(db):
    save(db, "conv-4", mid_form())
    new = Fernet.generate_key().decode()
    rotated = retrieve(db, "conv-4", DATA_KEYS=f"{new},{KEY}")
    assert rotated["slots"]["handoff_topic"] == "violence"
    assert retrieve(db, "conv-4", DATA_KEYS=new) is None, "a dropped key: she starts anew"
    save(db, "conv-4", mid_form(), DATA_KEYS=f"{new},{KEY}")
    assert retrieve(db, "conv-4", DATA_KEYS=new)["slots"]["handoff_topic"] == "violence"


def test_an_emptied_tracker_removes_her_row(db):
    """The gateway's erasure replaces her events with none (PUT .../tracker/events [])."""
    save(db, "conv-5", mid_form())
    save(db, "conv-6", mid_form())
    save(db, "conv-5", [])
    assert set(rows(db)) == {"conv-6"}
    assert retrieve(db, "conv-5") is None


def test_local_mode_without_keys_makes_the_key_file_once(db, tmp_path):
    key_file = tmp_path / "var" / "data.key"
    local = {"DATA_KEYS": None, "TRACKER_KEY_FILE": str(key_file)}
    save(db, "conv-7", mid_form(), **local)
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text().strip()
    Fernet(key.encode())  # a valid Fernet key
    assert retrieve(db, "conv-7", **local)["slots"]["handoff_topic"] == "violence"
    assert key_file.read_text().strip() == key, "read, not made again"
    assert retrieve(db, "conv-7", DATA_KEYS=key)["active_loop"]["name"] == "handoff_form"


def test_production_without_keys_refuses_to_start(db):
    done = subprocess.run(
        [str(RASA_PYTHON), str(DRIVER), db, "keys"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "APP_ENV": "production", "DATA_KEYS": "changeme"},
    )
    assert done.returncode != 0
    assert "DATA_KEYS must be set" in done.stderr


@pytest.mark.parametrize("first", ["rasa", "migration"])
def test_the_table_is_made_by_whichever_starts_first(db, first):
    if first == "rasa":
        save(db, "conv-8", mid_form())
        migrate(db)
    else:
        migrate(db)
        save(db, "conv-8", mid_form())
    assert retrieve(db, "conv-8")["slots"]["handoff_topic"] == "violence"
    engine = create_engine(db)
    with engine.connect() as conn:
        indexes = conn.execute(text("pragma index_list('rasa_trackers')")).all()
    engine.dispose()
    assert any(name == "ix_rasa_trackers_updated_at" for _, name, *_ in indexes)
    assert os.path.exists(db.removeprefix("sqlite:///"))
