"""Rasa's conversation state in the gateway's database (nlu/tracker_store.py), through the real
stack: Rasa killed in the middle of her request for a person and started again, and her next
answer goes on with the same form; the database file does not show what she typed; "delete my
data" removes her tracker with the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.storage.models import Contact
from common import texts
from tests.e2e.conftest import restart_rasa
from tests.e2e.test_channels import query
from tests.e2e.test_dialogue import ask_for_a_person, joined, newest_case_topic, start

pytestmark = pytest.mark.stack

TOPIC_IN_WORDS = "om danskuddannelse og sprogskole"  # test_dialogue: understood as "danish"


def her_conversation_key(stack) -> str:
    """Rasa's id for the woman who wrote last on REST (the newest contact there)."""
    newest = select(func.max(Contact.id)).where(Contact.channel == "rest").scalar_subquery()
    return query(stack, select(Contact.conversation_key).where(Contact.id == newest))[0][0]


def tracker_row(stack, key: str) -> tuple | None:
    statement = text("select updated_at, data from rasa_trackers where sender_id = :k")
    rows = query(stack, statement.bindparams(k=key))
    return rows[0] if rows else None


def test_a_rasa_restart_in_the_middle_of_the_form_goes_on_with_the_same_form(chat, stack):
    sender = start(chat, "da")
    ask_for_a_person(chat, sender, "da")
    assert joined(chat(sender, TOPIC_IN_WORDS)) == texts.text("utter_ask_handoff_woman", "da")

    restart_rasa(stack)

    # The form still waits for her answer to "a woman counsellor?", and still has her topic.
    assert joined(chat(sender, "/affirm")) == texts.text("utter_ask_handoff_contact", "da")
    assert joined(chat(sender, "/deny")) == texts.text("utter_ask_handoff_confirm", "da")
    done = joined(chat(sender, "/affirm"))
    assert texts.text("utter_handoff_cancelled", "da") not in done, done
    assert newest_case_topic(stack) == "danish"


def test_the_database_file_does_not_show_what_she_typed(chat, stack):
    sender = start(chat, "da")
    ask_for_a_person(chat, sender, "da")
    chat(sender, TOPIC_IN_WORDS)
    key = her_conversation_key(stack)
    row = tracker_row(stack, key)
    assert row is not None, "Rasa keeps her conversation in the gateway's database"
    assert TOPIC_IN_WORDS not in row[1] and "handoff" not in row[1]

    db_file = Path(stack.database_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    assert key.encode() in raw, "the file is the one both write to"
    for typed in (TOPIC_IN_WORDS, "rigtigt menneske"):  # her topic, her request for a person
        assert typed.encode() not in raw, typed


def test_deleting_her_data_removes_her_tracker(chat, stack):
    sender = start(chat, "da")
    chat(sender, "hvor får jeg et sundhedskort?")
    key = her_conversation_key(stack)
    assert tracker_row(stack, key) is not None

    asked = joined(chat(sender, "slet alt hvad jeg har skrevet"))
    assert texts.text("utter_delete_confirm", "da") in asked
    assert texts.text("utter_deleted", "da") in joined(chat(sender, "/affirm"))
    assert tracker_row(stack, key) is None
    assert query(stack, select(Contact.id).where(Contact.conversation_key == key)) == []
