"""action_answer_question after a disclosure (the gateway's screen or the classifier said
danger; 112 and 1888 are already given): never "I am not sure what you mean" or "I don't
know", answers only from violence, safety and residence, and acute need (a place to sleep
tonight) gets the shelter answer."""

from __future__ import annotations

import copy

import pytest

from common import texts
from knowledge.store import load
from tests.unit.actions_support import run, slots_set, tracker_state

KB = load()


@pytest.fixture(scope="module")
def answer():
    from actions.answer import ActionAnswerQuestion  # loads the index (seconds)

    return ActionAnswerQuestion()


def _disclosure(text: str, kind: str = "danger") -> dict:
    state = copy.deepcopy(tracker_state("region_question_da"))
    state["latest_message"]["text"] = text
    state["latest_message"]["intent"] = {"name": "danger", "confidence": 1.0}
    state["events"].append(
        {"event": "user", "text": text, "metadata": {"screening": "danger", "danger_kind": kind}}
    )
    return state


@pytest.mark.parametrize(
    "text",
    [
        "han slår mig og jeg er bange, hvad kan jeg gøre",
        "min mand truer mig, kan jeg blive i Danmark hvis jeg går fra ham",
        "han låser mig inde",
    ],
)
def test_a_disclosure_is_never_met_with_not_sure_or_a_menu_from_other_topics(answer, text):
    messages, events = run(answer, _disclosure(text))
    said = " ".join(m.get("text") or "" for m in messages)
    assert texts.text("utter_clarify", "da") not in said
    assert texts.text("utter_no_answer", "da") not in said
    assert not any(m.get("buttons") for m in messages), "no menus after a disclosure"
    answered = slots_set(events).get("last_entry_id")
    if answered is not None:
        assert KB.entries[answered].topic in {"violence", "emergency", "residence"}


def test_acute_need_gets_the_shelter_answer(answer):
    messages, events = run(answer, _disclosure("hjælp os", kind="acute"))
    assert slots_set(events)["last_entry_id"] == "violence-crisis-shelter"
    assert KB.render("violence-crisis-shelter", "da").text in messages[0]["text"]
