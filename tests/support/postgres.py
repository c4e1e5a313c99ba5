"""A fresh PostgreSQL schema for one test, one module or one fuzzing run, on the loopback
server: tests on PostgreSQL never see each other's rows, and nothing is left behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


@contextmanager
def fresh_schema(server_url: str, prefix: str = "t") -> Iterator[str]:
    """A new, empty schema, as a database URL whose search_path is that schema; dropped with
    everything in it afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(server_url)
    with engine.begin() as conn:
        conn.execute(text(f'create schema "{schema}"'))
    sep = "&" if "?" in server_url else "?"
    try:
        yield f"{server_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'drop schema "{schema}" cascade'))
        engine.dispose()
