"""Encryption at rest for what she writes and what is written about her.

`EncryptedText` is a column type: Python sees clear text, the database holds a Fernet token
(AES-128-CBC with HMAC-SHA256, random IV), so a copy of the database file shows nothing
she wrote. Keys come from `DATA_KEYS` (bot/settings.py): comma-separated Fernet keys, the
first encrypts, every one decrypts (MultiFernet). Rotation: put a new key first, run
`python -m bot.storage.rotate`, then drop the old one.

A ciphertext is different every time, so an encrypted column cannot be compared in SQL:
`Message.text == "x"` raises instead of silently matching nothing. Filter in Python after
loading (the rows are always narrowed by contact or case first).

May touch: nothing but the keys; it never logs a text.
"""

from __future__ import annotations

import logging
import operator
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.sql import ClauseElement, operators
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

# What a row shows when none of the configured keys opens it (a key dropped before
# `python -m bot.storage.rotate` ran): the page still works and says why the text is missing.
UNREADABLE = "[encrypted with a key that is no longer in DATA_KEYS]"

_explicit: str | None = None


def use_keys(keys: str | None) -> None:
    """Use these keys (a Settings object's `data_keys`) instead of the environment's;
    None: back to the environment (`get_settings().data_keys`)."""
    global _explicit
    _explicit = keys or None


def key_list(keys: str) -> list[str]:
    return [k.strip() for k in keys.split(",") if k.strip()]


@lru_cache(maxsize=8)
def _keyring(keys: str) -> MultiFernet:
    found = key_list(keys)
    if not found:
        raise RuntimeError("no data key: set DATA_KEYS")
    return MultiFernet([Fernet(k.encode()) for k in found])


def current_keys() -> str:
    if _explicit is not None:
        return _explicit
    from bot.settings import get_settings

    return get_settings().data_keys


def keyring() -> MultiFernet:
    return _keyring(current_keys())


def encrypt(value: str) -> str:
    return keyring().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Clear text; raises InvalidToken when no configured key opens it."""
    return keyring().decrypt(token.encode("ascii")).decode("utf-8")


def rotate(token: str) -> str:
    """The same text, encrypted again under the first key; raises InvalidToken as decrypt."""
    return keyring().rotate(token.encode("ascii")).decode("ascii")


_SQL_COMPARISONS = frozenset(
    {
        operator.eq,
        operator.ne,
        operator.lt,
        operator.le,
        operator.gt,
        operator.ge,
        operators.like_op,
        operators.not_like_op,
        operators.ilike_op,
        operators.not_ilike_op,
        operators.in_op,
        operators.not_in_op,
        operators.contains_op,
        operators.startswith_op,
        operators.endswith_op,
        operators.between_op,
        operators.match_op,
    }
)


class EncryptedText(TypeDecorator):
    """TEXT in the database, holding a Fernet token; clear text in Python. None stays NULL."""

    impl = Text
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator):
        def operate(self, op, *other, **kwargs):
            # against a Python value, which would be encrypted afresh; SQLAlchemy itself
            # compares columns with columns (==) and must keep working
            if op in _SQL_COMPARISONS and not all(isinstance(o, ClauseElement) for o in other):
                raise TypeError(
                    "an encrypted column cannot be compared in SQL (every ciphertext "
                    "differs): load the rows and filter in Python"
                )
            return super().operate(op, *other, **kwargs)

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return encrypt(str(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return decrypt(value)
        except (InvalidToken, ValueError, UnicodeError):
            log.warning("a stored text could not be decrypted with the configured DATA_KEYS")
            return UNREADABLE
