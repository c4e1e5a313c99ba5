"""Rasa's tracker store, kept in the gateway's database and encrypted, loaded by endpoints.yml.

Rasa keeps each conversation's state (the half-filled handoff form, her region, her language)
in a tracker. The in-memory store forgot all of it when Rasa restarted; this one keeps one row
per conversation in the table `rasa_trackers` of the gateway's database (migration 0005,
created here too when Rasa starts first):

    sender_id   TEXT PRIMARY KEY          the gateway's random Contact.conversation_key
    updated_at  TIMESTAMP WITH TIME ZONE  the last save (UTC); retention deletes by it
    data        TEXT                      Rasa's own JSON serialisation, Fernet-encrypted

It is configured from the environment like the gateway, so both read the same settings:
`DATABASE_URL` (default the gateway's SQLite file), `DATA_KEYS` (comma-separated Fernet keys:
the first encrypts, all decrypt; in local mode without them the key in `var/data.key`, made
when missing), `RETENTION_DAYS` (default 30: an older conversation is not restored, she starts
afresh) and `APP_ENV` (outside `local` a missing key refuses to start).

Only her current session is kept: Rasa hands back the latest session, so a save after a new
session began replaces the older ones. A tracker saved with no events at all (the gateway's
erasure replaces her events with none) deletes her row. Nothing here logs an id or a text.

This module runs inside the Rasa server (Python 3.10, SQLAlchemy 1.4); it imports nothing of
the project (pyproject.toml's import contracts).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore
from rasa.shared.core.trackers import (
    DialogueStateTracker,
    get_trackers_for_conversation_sessions,
)

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
VAR = REPO / "var"
DEFAULT_DATABASE_URL = f"sqlite:///{VAR / 'bot.storage.db'}"  # bot/settings.py's default
PLACEHOLDERS = {"", "changeme", "change-me", "secret", "xxx"}
TABLE = "rasa_trackers"

metadata = sa.MetaData()
trackers = sa.Table(
    TABLE,
    metadata,
    sa.Column("sender_id", sa.Text, primary_key=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)


def engine_url(url: str) -> str:
    """The gateway's URL in SQLAlchemy 1.4's spelling: the gateway (SQLAlchemy 2) may name
    psycopg 3, which 1.4 lacks; the Rasa environment has psycopg2."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> sa.engine.Engine:
    """Short transactions beside the gateway's writer: SQLite in WAL mode (readers never
    block the writer) and a busy timeout, so a write waits for the gateway's instead of
    failing with "database is locked". Parameters are kept out of error messages."""
    url = engine_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)


def create_table(engine: sa.engine.Engine) -> None:
    """`CREATE TABLE IF NOT EXISTS`, as migration 0005 does, so that whichever of Rasa and
    the gateway's migration comes first, the other one finds the table and goes on."""
    ddl = str(sa.schema.CreateTable(trackers).compile(dialect=engine.dialect)).strip()
    ddl = ddl.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)
    index = f"CREATE INDEX IF NOT EXISTS ix_{TABLE}_updated_at ON {TABLE} (updated_at)"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(ddl))
            conn.execute(sa.text(index))
    except sa.exc.DBAPIError:
        # PostgreSQL can still refuse a CREATE ... IF NOT EXISTS that raced another one.
        if not sa.inspect(engine).has_table(TABLE):
            raise


def local_data_key(path: Path) -> str:
    """The local key file the gateway uses too: made once (32 random bytes, urlsafe base64,
    as Fernet.generate_key() does, mode 600) by whichever process needs it first. Created
    with O_EXCL: this process never overwrites a key that another one has just made."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(Fernet.generate_key().decode())
    for _ in range(50):  # another process may have created it a moment ago and be writing
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.1)
    raise RuntimeError(f"{path} is empty")


def keys_from_environment(environ: dict | None = None) -> list[str] | None:
    """DATA_KEYS as a list, first the one that encrypts; None where local mode should use
    var/data.key. Outside local mode a missing or placeholder key refuses to start, as the
    gateway does (bot/settings.py); a value that is no Fernet key refuses everywhere."""
    environ = os.environ if environ is None else environ
    keys = [k.strip() for k in environ.get("DATA_KEYS", "").split(",") if k.strip()]
    local = environ.get("APP_ENV", "local") == "local"
    if not local and (not keys or any(k.lower() in PLACEHOLDERS for k in keys)):
        raise RuntimeError("DATA_KEYS must be set to Fernet keys outside local mode")
    return keys or None


class EncryptedTrackerStore(TrackerStore, SerializedTrackerAsText):
    """One encrypted row per conversation in the gateway's database (see the module doc)."""

    def __init__(
        self,
        domain: Any = None,
        host: str | None = None,
        event_broker: Any = None,
        database_url: str | None = None,
        data_keys: list[str] | None = None,
        retention_days: float | None = None,
        key_file: str | None = None,
        **kwargs: Any,
    ) -> None:
        # endpoints.yml may give `url:` (Rasa passes it as host); the environment is the rule.
        url = database_url or host or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        self.retention = timedelta(
            days=float(
                retention_days
                if retention_days is not None
                else os.environ.get("RETENTION_DAYS", "30")
            )
        )
        keys = list(data_keys) if data_keys else keys_from_environment()
        self._key_file = Path(key_file) if key_file else VAR / "data.key"
        # Without DATA_KEYS the local key file is read at the first save or retrieval, not
        # at start: by then the gateway, starting beside us, has made it if it was missing.
        self._fernet: MultiFernet | None = self._multi(keys) if keys else None
        self.engine = make_engine(url)
        create_table(self.engine)
        super().__init__(domain, event_broker, **kwargs)

    @staticmethod
    def _multi(keys: list[str]) -> MultiFernet:
        return MultiFernet([Fernet(k.encode()) for k in keys])

    @property
    def fernet(self) -> MultiFernet:
        if self._fernet is None:
            self._fernet = self._multi([local_data_key(self._key_file)])
        return self._fernet

    def _cutoff(self) -> datetime:
        return datetime.now(timezone.utc) - self.retention

    # Blocking work (the key file, encryption, the database), run in a thread so the event
    # loop keeps serving other women while a write waits for the gateway's.

    def _write(self, sender_id: str, serialised: str | None) -> None:
        if serialised is None:
            with self.engine.begin() as conn:
                conn.execute(trackers.delete().where(trackers.c.sender_id == sender_id))
            return
        sealed = self.fernet.encrypt(serialised.encode("utf-8")).decode("ascii")
        with self.engine.begin() as conn:
            values = {"updated_at": datetime.now(timezone.utc), "data": sealed}
            updated = conn.execute(
                trackers.update().where(trackers.c.sender_id == sender_id).values(**values)
            )
            if updated.rowcount == 0:
                conn.execute(trackers.insert().values(sender_id=sender_id, **values))

    def _read(self, sender_id: str) -> bytes | None:
        """Her serialised tracker; None when there is none, it is older than the retention
        period, or no key given opens it (written under a dropped key: she starts anew)."""
        query = sa.select(trackers.c.data).where(
            trackers.c.sender_id == sender_id, trackers.c.updated_at >= self._cutoff()
        )
        with self.engine.connect() as conn:
            sealed = conn.execute(query).scalar()
        if sealed is None:
            return None
        try:
            return self.fernet.decrypt(sealed.encode("ascii"))
        except InvalidToken:
            log.warning("a stored tracker could not be decrypted with DATA_KEYS; starting anew")
            return None

    def _keys(self) -> list[str]:
        query = sa.select(trackers.c.sender_id).where(trackers.c.updated_at >= self._cutoff())
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    # Rasa 3.6's asynchronous interface (TrackerStore's coroutines; the rest are inherited).

    async def save(self, tracker: DialogueStateTracker) -> None:
        """An emptied tracker (the gateway's erasure) deletes her row instead."""
        await self.stream_events(tracker)
        serialised = self.serialise_tracker(tracker) if tracker.events else None
        await asyncio.to_thread(self._write, tracker.sender_id, serialised)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """Her latest session, as Rasa's own stores return it."""
        return await self._retrieve(sender_id, fetch_all_sessions=False)

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        return await self._retrieve(conversation_id, fetch_all_sessions=True)

    async def keys(self) -> Iterable[str]:
        return await asyncio.to_thread(self._keys)

    async def exists(self, conversation_id: str) -> bool:
        return await asyncio.to_thread(self._read, conversation_id) is not None

    async def _retrieve(
        self, sender_id: str, fetch_all_sessions: bool
    ) -> DialogueStateTracker | None:
        serialised = await asyncio.to_thread(self._read, sender_id)
        if serialised is None:
            return None
        tracker = self.deserialise_tracker(sender_id, serialised)
        if tracker is None or fetch_all_sessions:
            return tracker
        sessions = get_trackers_for_conversation_sessions(tracker)
        return sessions[-1] if len(sessions) > 1 else tracker
