"""Rasa's lock store from endpoints.yml (nlu/lock_store.py), in Rasa's own Python: with
REDIS_URL set, two Rasa processes that get a message of the same conversation at the same
moment handle them one after the other (the loopback Redis holds the lock); without it each
process locks only for itself, which is right for one Rasa server and wrong for two (shown
here too, so the first assertion is not luck). Rasa's own RedisLockStore fails the first test:
both processes get ticket 0 (nlu/lock_store.py)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

from tools.stack import REPO

RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"
# one Rasa process handling one message of conversation `cid`: the lock, then 0.6 s of work
TURN = """
import asyncio, json, sys, time
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import read_endpoint_config

store = LockStore.create(read_endpoint_config("endpoints.yml", "lock_store"))

async def turn():
    async with store.lock(sys.argv[1], wait_time_in_seconds=0.05):
        start = time.time()
        await asyncio.sleep(0.6)
        return start, time.time()

start, end = asyncio.run(turn())
print(json.dumps({"store": type(store).__name__, "start": start, "end": end}))
"""


def two_servers_at_once(env: dict) -> list[dict]:
    cid = f"conv-{uuid.uuid4().hex[:8]}"
    procs = [
        subprocess.Popen(
            [str(RASA_PYTHON), "-c", TURN, cid],
            cwd=REPO,
            # endpoints.yml names the action server's address: any will do here
            env={
                **os.environ,
                "ACTION_ENDPOINT_URL": "http://127.0.0.1:9/webhook",
                **env,
                "PYTHONPATH": str(REPO),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr[-2000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return sorted(out, key=lambda r: r["start"])


def test_with_redis_one_conversation_is_handled_by_one_rasa_at_a_time(redis_url):
    first, second = two_servers_at_once({"REDIS_URL": redis_url})
    assert first["store"] == second["store"] == "AtomicRedisLockStore"
    assert second["start"] >= first["end"] - 0.01, (first, second)  # after, never during


def test_without_redis_each_rasa_locks_only_for_itself():
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    first, second = two_servers_at_once({**env, "REDIS_URL": ""})
    assert first["store"] == second["store"] == "InMemoryLockStore"
    assert second["start"] < first["end"]  # both at once: why several servers need Redis
