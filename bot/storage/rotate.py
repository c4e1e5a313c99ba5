"""Re-encrypts every encrypted value under the first of DATA_KEYS, so an old key can go.

Usage (with the new key first and the old one still listed):

    DATA_KEYS=<new>,<old> python -m bot.storage.rotate

then remove <old> from DATA_KEYS and restart. The columns are those in `ENCRYPTED` (every
`EncryptedText` column of the models) and Rasa's trackers. A value no configured key opens is
left untouched and counted; the command then exits 1, so nobody drops a key still needed.
"""

from __future__ import annotations

import sys

from cryptography.fernet import InvalidToken
from sqlalchemy import Engine, Integer, Text, column, inspect, select, table, update

from bot.storage.crypto import rotate

BATCH = 500

# Every EncryptedText column, by table. Listed rather than found from the models because the
# referral tables live in a layer above this one; tests/unit/test_crypto.py checks the list
# against the models.
ENCRYPTED: dict[str, tuple[str, ...]] = {
    "messages": ("text", "payload", "last_error"),
    "case_notes": ("text",),
    "canned_replies": ("text",),
    "unanswered_questions": ("text",),
}
# Rasa's trackers, encrypted under the same keys by nlu/tracker_store.py (migration 0005).
OUTSIDE_MODELS: dict[str, tuple[str, ...]] = {"rasa_trackers": ("data",)}
ROW_KEY = {"rasa_trackers": "sender_id"}  # every other table: id


def rotate_all(engine: Engine) -> dict[str, int]:
    """{"rotated": values rewritten, "unreadable": values no key opens}; commits per batch."""
    done = {"rotated": 0, "unreadable": 0}
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
    for name, columns in {**ENCRYPTED, **OUTSIDE_MODELS}.items():
        if name not in present:
            continue
        key = ROW_KEY.get(name, "id")
        raw = table(
            name, column(key, Text if key != "id" else Integer), *(column(c, Text) for c in columns)
        )
        row_key = raw.c[key]
        last: int | str | None = None
        while True:
            with engine.begin() as conn:
                page = select(raw).order_by(row_key).limit(BATCH)
                if last is not None:
                    page = page.where(row_key > last)
                rows = conn.execute(page).all()
                for row in rows:
                    values = {}
                    for c in columns:
                        value = getattr(row, c)
                        if value is None:
                            continue
                        try:
                            values[c] = rotate(value)
                        except (InvalidToken, ValueError, UnicodeError):
                            done["unreadable"] += 1
                    if values:
                        # only where nobody rewrote it meanwhile (Rasa, the delivery worker):
                        # a newer value is under the first key already
                        unchanged = [raw.c[c] == getattr(row, c) for c in values]
                        done["rotated"] += (
                            len(values)
                            * conn.execute(
                                update(raw)
                                .where(row_key == getattr(row, key), *unchanged)
                                .values(**values)
                            ).rowcount
                        )
            if not rows:
                break
            last = getattr(rows[-1], key)
    return done


def main() -> int:
    from bot.settings import get_settings
    from bot.storage.db import engine_for

    done = rotate_all(engine_for(get_settings().database_url))
    print(f"re-encrypted {done['rotated']} values under the first key")
    if done["unreadable"]:
        print(
            f"{done['unreadable']} values open with none of DATA_KEYS and were left as they "
            "are: put back the key they were written with before removing any",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
