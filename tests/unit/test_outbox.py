"""The outbox: every reply to her is stored in order before it goes anywhere, with the status
that decides who sends it (REST answers in-band, push channels through the delivery worker),
and her push address is kept sealed so that only the current HASH_KEY can open it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.outbox import Reply, buttons_of, enqueue, reveal_address, seal_address
from bot.storage.db import make_engine, migrate
from bot.storage.models import Contact, Message

KEY = "a-long-random-test-hash-key"
BUTTONS = (
    {"title": "Ja", "payload": "/affirm"},
    {"title": "Nej", "payload": "/deny"},
)


@pytest.fixture
def db(sqlite_url):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def contact(db: Session, channel: str, language: str | None = "da") -> Contact:
    row = Contact(channel=channel, user_hash=f"h-{channel}-{language}", language=language)
    db.add(row)
    db.flush()
    return row


def inbound(db: Session, her: Contact, language: str = "ar") -> Message:
    row = Message(contact_id=her.id, direction="in", text="hej", language=language)
    db.add(row)
    db.flush()
    return row


def stored(db: Session, her: Contact) -> list[Message]:
    return list(
        db.scalars(
            select(Message)
            .where(Message.contact_id == her.id, Message.direction == "out")
            .order_by(Message.id)
        )
    )


REPLIES = [
    Reply("Ring 112, hvis du er i fare.", kind="emergency"),
    Reply("Vil du tale med en rådgiver?", buttons=BUTTONS),
    Reply("Du kan altid skrive igen.", kind="notice"),
]


def test_replies_are_stored_in_the_order_she_must_read_them(db):
    her = contact(db, "telegram")
    rows = enqueue(db, her, REPLIES)
    db.commit()
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert [(m.text, m.kind) for m in stored(db, her)] == [(r.text, r.kind) for r in REPLIES]
    assert all(m.direction == "out" and m.attempts == 0 for m in stored(db, her))


def test_a_rest_answer_in_the_http_response_is_already_sent(db):
    her = contact(db, "rest")
    enqueue(db, her, REPLIES, in_band=True)
    assert {m.status for m in stored(db, her)} == {"sent"}


def test_a_rest_message_outside_the_http_answer_waits_queued_for_her_client(db):
    her = contact(db, "rest")
    enqueue(db, her, REPLIES)  # a counsellor's message, a late answer
    assert {m.status for m in stored(db, her)} == {"queued"}


@pytest.mark.parametrize("channel", ["telegram", "whatsapp"])
@pytest.mark.parametrize("in_band", [True, False])
def test_on_a_push_channel_every_reply_waits_for_the_delivery_worker(db, channel, in_band):
    her = contact(db, channel)
    enqueue(db, her, REPLIES, in_band=in_band)
    assert {m.status for m in stored(db, her)} == {"queued"}, "there is no HTTP answer to carry it"


def test_buttons_survive_the_round_trip_and_plain_text_has_none(db):
    her = contact(db, "whatsapp")
    enqueue(db, her, REPLIES)
    emergency, question, notice = stored(db, her)
    assert buttons_of(question) == list(BUTTONS)
    assert json.loads(question.payload) == list(BUTTONS)
    assert emergency.payload is None and buttons_of(emergency) == []
    assert buttons_of(notice) == []


def test_replies_to_a_message_link_to_it_and_take_its_language(db):
    her = contact(db, "telegram", language="da")
    asked = inbound(db, her, language="ar")
    enqueue(db, her, REPLIES, reply_to=asked)
    assert {(m.reply_to_id, m.language) for m in stored(db, her)} == {(asked.id, "ar")}


def test_a_message_on_its_own_takes_her_language_and_an_explicit_one_wins(db):
    her = contact(db, "telegram", language="so")
    enqueue(db, her, [Reply("Salaan")])
    enqueue(db, her, [Reply("مرحبا")], reply_to=inbound(db, her, "so"), language="ar")
    assert [(m.reply_to_id is None, m.language) for m in stored(db, her)] == [
        (True, "so"),
        (False, "ar"),
    ]


def test_nothing_to_send_stores_nothing(db):
    her = contact(db, "telegram")
    assert enqueue(db, her, []) == []
    assert stored(db, her) == []


def test_her_address_is_sealed_and_opens_again_with_the_same_key(db):
    her = contact(db, "telegram")
    her.address_enc = seal_address("5520001", KEY)
    db.commit()
    assert "5520001" not in her.address_enc, "the chat id is never stored in clear"
    db.expire_all()
    again = db.get(Contact, her.id)
    assert reveal_address(again, KEY) == "5520001"


def test_sealing_twice_gives_different_texts_that_both_open(db):
    her, other = contact(db, "whatsapp"), contact(db, "telegram")
    her.address_enc = seal_address("4520550001", KEY)
    other.address_enc = seal_address("4520550001", KEY)
    assert her.address_enc != other.address_enc, "no equal ciphertexts to link two women by"
    assert reveal_address(her, KEY) == reveal_address(other, KEY) == "4520550001"


def test_a_rotated_hash_key_gives_no_address_instead_of_failing(db):
    her = contact(db, "whatsapp")
    her.address_enc = seal_address("4520550001", KEY)
    assert reveal_address(her, "a-new-key-after-rotation") is None


def test_no_stored_address_gives_none(db):
    her = contact(db, "telegram")
    assert her.address_enc is None
    assert reveal_address(her, KEY) is None


def test_a_damaged_sealed_address_gives_none(db):
    her = contact(db, "telegram")
    her.address_enc = seal_address("5520001", KEY)[:-4] + "AAAA"
    assert reveal_address(her, KEY) is None
