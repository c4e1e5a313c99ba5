"""Fixtures shared by all suites.

Tests that need PostgreSQL use TEST_DATABASE_URL or the server on 127.0.0.1:5432, and those
that need Redis TEST_REDIS_URL or 127.0.0.1:6379. Without one they are skipped with the
reason shown, except under CI=true, where a missing server fails the run: CI must not pass
by skipping what users run.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from tests.support.postgres import fresh_schema

IN_CI = os.environ.get("CI", "").lower() == "true"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _missing(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # no server here
        _missing(f"PostgreSQL not reachable at {url}: {exc.__class__.__name__}")
    return url


@pytest.fixture
def postgres_url(postgres_server_url):
    """A fresh, empty schema per test, dropped afterwards."""
    with fresh_schema(postgres_server_url) as url:
        yield url


DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The loopback Redis (TEST_REDIS_URL): skipped where there is none, except under CI."""
    import socket
    from urllib.parse import urlparse

    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS)
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=2) as s:
            s.sendall(b"PING\r\n")
            if not s.recv(16).startswith(b"+PONG"):
                raise ConnectionError("no PONG")
    except OSError as exc:
        _missing(f"Redis not reachable at {url}: {exc.__class__.__name__}")
    return url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'bot.storage.db'}"
