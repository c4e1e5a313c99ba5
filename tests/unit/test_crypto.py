"""Encryption at rest (bot/storage/crypto.py, bot/storage/rotate.py): what she writes is a
Fernet token in the database and clear text to the code; a new key can take over from an old
one without losing a message; a wrong query fails loudly instead of finding nothing."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.orm import Session

import bot.referrals.models  # noqa: F401  (the referral tables on Base)
from bot.storage import crypto, rotate
from bot.storage.db import make_engine
from bot.storage.models import Base, Contact, Message, new_key

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def engine(tmp_path):
    crypto.use_keys(OLD)
    engine = make_engine(f"sqlite:///{tmp_path / 'crypto.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()
    crypto.use_keys(None)


def _store(engine, words: str) -> int:
    with Session(engine) as db:
        contact = Contact(channel="rest", user_hash=new_key())
        db.add(contact)
        db.flush()
        row = Message(contact_id=contact.id, direction="in", text=words, payload='["x"]')
        db.add(row)
        db.commit()
        return row.id


def _raw(engine, message_id: int) -> str:
    with engine.connect() as conn:
        return conn.scalar(text("select text from messages where id = :i"), {"i": message_id})


def _read(engine, message_id: int) -> str:
    with Session(engine) as db:
        return db.get_one(Message, message_id).text


def test_her_words_are_a_token_in_the_database_and_clear_text_when_read(engine):
    message_id = _store(engine, "min mand tog mit pas")
    raw = _raw(engine, message_id)
    assert "pas" not in raw and raw.startswith("gAAAAA"), "a Fernet token"
    assert _read(engine, message_id) == "min mand tog mit pas"
    with Session(engine) as db:  # the same words again
        db.add(Message(contact_id=1, direction="in", text="min mand tog mit pas"))
        db.commit()
    with engine.connect() as conn:
        tokens = conn.scalars(text("select text from messages")).all()
    assert tokens[0] != tokens[1], "the same words encrypt differently each time"


def test_comparing_an_encrypted_column_in_sql_is_refused(engine):
    with pytest.raises(TypeError, match="encrypted column"):
        select(Message).where(Message.text == "pas")
    with pytest.raises(TypeError, match="encrypted column"):
        select(Message).where(Message.text.contains("pas"))
    _store(engine, "hello")
    with Session(engine) as db:  # NULL checks still work: they need no clear text
        assert db.scalar(select(Message.id).where(Message.payload.is_not(None))) is not None


def test_rotation_moves_every_value_to_the_new_key_and_the_old_key_can_go(engine):
    message_id = _store(engine, "written under the old key")
    crypto.use_keys(NEW)
    assert _read(engine, message_id) == crypto.UNREADABLE, "the new key alone cannot open it"
    crypto.use_keys(f"{NEW},{OLD}")
    assert _read(engine, message_id) == "written under the old key"
    assert rotate.rotate_all(engine) == {"rotated": 2, "unreadable": 0}  # text and payload
    crypto.use_keys(NEW)
    assert _read(engine, message_id) == "written under the old key"


def test_rotation_leaves_what_no_key_opens_and_says_so(engine):
    message_id = _store(engine, "only the old key opens this")
    before = _raw(engine, message_id)
    crypto.use_keys(NEW)
    assert rotate.rotate_all(engine) == {"rotated": 0, "unreadable": 2}
    assert _raw(engine, message_id) == before, "not overwritten: the old key can still open it"


def test_the_rotation_list_names_every_encrypted_column_of_the_models():
    found = {
        name: tuple(c.name for c in table.columns if isinstance(c.type, crypto.EncryptedText))
        for name, table in Base.metadata.tables.items()
    }
    assert rotate.ENCRYPTED == {name: cols for name, cols in found.items() if cols}
