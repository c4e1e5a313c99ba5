"""action_answer_question reads her question's vector from the metadata the gateway sent
(langtools/query_vector.py) instead of encoding the question again: the answer follows the
vector it was given, and nothing is encoded on the way."""

from __future__ import annotations

import copy

import pytest

from knowledge import model_store
from langtools import query_vector
from tests.unit.actions_support import run, slots_set, tracker_state


@pytest.fixture(scope="module")
def answer():
    from actions.answer import ActionAnswerQuestion  # loads the index (seconds)

    return ActionAnswerQuestion()


def _asked(text: str, metadata: dict) -> dict:
    state = copy.deepcopy(tracker_state("region_question_da"))
    state["slots"]["region"] = "capital"  # no town asked: the answer itself
    state["latest_message"]["text"] = text
    state["events"].append({"event": "user", "text": text, "metadata": metadata})
    return state


def _best_entry(text: str) -> str:
    from actions.knowledge_state import state

    _, index = state()
    return index.search(text, "da", "capital", k=1)[0].entry_id


def test_the_answer_follows_the_vector_that_came_with_her_message(answer, monkeypatch):
    from actions.knowledge_state import state

    _, index = state()
    question, other = "hvor kan jeg lære dansk gratis", "hvad koster en tolk hos lægen"
    expected = _best_entry(other)
    assert _best_entry(question) != expected
    # the vector of the other question, sent as if it were this one's: only a reader that
    # really uses the vector it was given answers the other question
    vector = model_store.for_queries().encode([other])[0]
    metadata = {"language": "da", query_vector.KEY: query_vector.pack(question, vector)}

    def no_encoding(*_args, **_kwargs):
        raise AssertionError("the question was encoded again")

    monkeypatch.setattr(index.model, "encode", no_encoding)
    monkeypatch.setattr(index, "_last_query", None)
    _, events = run(answer, _asked(question, metadata))
    assert slots_set(events)["last_entry_id"] == expected


def test_without_a_vector_the_question_is_encoded_here(answer):
    question = "hvor kan jeg lære dansk gratis"
    _, events = run(answer, _asked(question, {"language": "da"}))
    assert slots_set(events)["last_entry_id"] == _best_entry(question)
