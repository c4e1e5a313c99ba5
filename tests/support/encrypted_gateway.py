"""A real gateway on loopback with its own data key, a scripted Rasa and action server, and
an engine on its database: for tests that read what was stored (encrypted) at rest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from bot.settings import Settings
from bot.storage import crypto
from bot.storage.db import make_engine
from gateway.app import create_app
from tests.support.fake_rasa import FakeActions, FakeRasa
from tests.support.servers import serve


@contextmanager
def data_key(key: str) -> Iterator[None]:
    """This process reads and writes encrypted columns with `key` meanwhile."""
    crypto.use_keys(key)
    try:
        yield
    finally:
        crypto.use_keys(None)


@contextmanager
def encrypted_gateway(database_url: str, key: str) -> Iterator[tuple[str, Engine, FakeRasa]]:
    rasa, actions = FakeRasa(), FakeActions()
    with serve(rasa.app) as rasa_url, serve(actions.app) as action_url:
        settings = Settings(
            hash_key="test-key",
            data_keys=key,
            database_url=database_url,
            rasa_url=rasa_url,
            action_server_url=action_url,
            rasa_timeout_s=5,
        )
        with serve(create_app(settings)) as url:
            engine = make_engine(database_url)
            try:
                yield url, engine, rasa
            finally:
                engine.dispose()
