"""Rasa's lock store, chosen by the environment: Redis when REDIS_URL is set, so that with
two or more Rasa servers one conversation's messages are handled in order by one of them
at a time; Rasa's in-memory lock store otherwise (one Rasa server: `make run`).

endpoints.yml names this class (`lock_store: type: nlu.lock_store.EnvLockStore`): Rasa
refuses a file that names an unset ${VARIABLE}, so the choice is made here, when Rasa
creates the store. REDIS_URL is `redis://[:password@]host:port/db`; the keys are prefixed
`botlock:` so a Redis shared with other programs keeps them apart.

Rasa 3.6's RedisLockStore issues a ticket by reading the conversation's lock, adding the
ticket and writing it back, with nothing between the read and the write: two Rasa servers
that receive a message of the same conversation at the same moment both read "no lock",
both get ticket 0 and both handle their message at once (tests/integration/
test_lock_store.py shows it). `AtomicRedisLockStore` makes each of those read-and-writes
one step, under a short Redis mutex per conversation (redis-py's Lock: SET NX with an
expiry, released by a script that checks the owner).
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockStore, RedisLockStore

KEY_PREFIX = "botlock"  # Rasa takes letters and digits only
MUTEX_S = 5  # the longest a read-and-write of one lock may hold its mutex


def redis_settings(url: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss"):
        raise ValueError(f"REDIS_URL must start with redis:// or rediss://, not {url[:12]!r}")
    db = (parsed.path or "/0").lstrip("/") or "0"
    return {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 6379,
        "db": int(db),
        "username": parsed.username or None,
        "password": parsed.password or None,
        "use_ssl": parsed.scheme == "rediss",
        "key_prefix": KEY_PREFIX,
    }


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store with each read-and-write of a lock made one step."""

    def _mutex(self, conversation_id: str):
        return self.red.lock(
            f"{self.key_prefix}mutex:{conversation_id}", timeout=MUTEX_S, blocking_timeout=MUTEX_S
        )

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        with self._mutex(conversation_id):
            return super().issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        with self._mutex(conversation_id):
            super().update_lock(conversation_id)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        with self._mutex(conversation_id):
            super().finish_serving(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        with self._mutex(conversation_id):  # one step: no ticket issued in between is lost
            LockStore.finish_serving(self, conversation_id, ticket_number)
            if not self.is_someone_waiting(conversation_id):
                self.delete_lock(conversation_id)


class EnvLockStore(LockStore):
    """Creates AtomicRedisLockStore or Rasa's InMemoryLockStore (not this class)."""

    def __new__(cls, endpoint_config=None):  # noqa: ARG003  (Rasa passes its endpoint config)
        url = os.environ.get("REDIS_URL", "").strip()
        if url:
            return AtomicRedisLockStore(**redis_settings(url))
        return InMemoryLockStore()
