"""Drives nlu/tracker_store.py from the Rasa environment (Python 3.10), one operation a run,
so that every run is a Rasa process starting afresh: what one run saved, the next one can only
have from the database.

    .venv-rasa/bin/python tests/support/rasa_tracker.py DATABASE_URL save SENDER EVENTS_JSON
    .venv-rasa/bin/python tests/support/rasa_tracker.py DATABASE_URL retrieve SENDER
    .venv-rasa/bin/python tests/support/rasa_tracker.py DATABASE_URL keys

Settings come from the environment as in the Rasa server (DATA_KEYS, RETENTION_DAYS, APP_ENV);
TRACKER_KEY_FILE stands in for var/data.key. Prints one JSON value: the tracker's state as
Rasa's HTTP API shows it (or null), or the list of keys. Used by tests/unit/test_tracker_store.py.
"""

import asyncio
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity  # noqa: E402

from nlu.tracker_store import EncryptedTrackerStore  # noqa: E402


async def main(url: str, op: str, *args: str) -> object:
    domain = Domain.load(str(REPO / "domain.yml"))
    store = EncryptedTrackerStore(
        domain=domain, database_url=url, key_file=os.environ.get("TRACKER_KEY_FILE")
    )
    if op == "save":
        sender, events = args[0], json.loads(args[1])
        await store.save(DialogueStateTracker.from_dict(sender, events, domain.slots))
        return None
    if op == "retrieve":
        tracker = await store.retrieve(args[0])
        return tracker.current_state(EventVerbosity.ALL) if tracker else None
    if op == "keys":
        return sorted(await store.keys())
    raise SystemExit(f"unknown operation {op}")


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:]))))
