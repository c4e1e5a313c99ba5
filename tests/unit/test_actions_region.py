"""The region question on saved trackers, with the real knowledge index: she is asked for her
town only when the best answer depends on the region, her answer is mapped to a region and
remembered, and the answer she then gets is for her region (the out-of-hours number differs:
1813 in the Capital Region, 1818 in Region Zealand)."""

from __future__ import annotations

import copy

import pytest

from knowledge.store import load
from tests.unit.actions_support import payloads, run, slots_set, tracker_state

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def answer():
    from actions.answer import ActionAnswerQuestion  # loads the index (seconds)

    return ActionAnswerQuestion()


KB = load()


def _after_form(region: str | None) -> dict:
    """What Rasa sends once region_form has her answer: the form ran last and ended."""
    state = copy.deepcopy(tracker_state("region_answer_da"))
    state["slots"].update({"region": region, "region_answer": "given", "requested_slot": None})
    state["active_loop"] = {}
    state["latest_action_name"] = "region_form"
    state["events"] += [
        {"event": "slot", "name": "region", "value": region},
        {"event": "action", "name": "region_form"},
        {"event": "active_loop", "name": None},
        {"event": "slot", "name": "requested_slot", "value": None},
    ]
    return state


def _entries_offered(messages: list[dict]) -> list[str]:
    """Entry ids answered or offered as buttons, in order (answers carry their source)."""
    ids = []
    for m in messages:
        for b in m.get("buttons") or []:
            if "entry_id" in b["payload"]:
                ids.append(b["payload"].split('"entry_id": "')[1].split('"')[0])
    return ids


def test_a_regional_question_is_answered_for_all_of_denmark_and_asks_her_town(answer):
    # Region never gates an answer: what holds everywhere first, her town asked in the same
    # reply for the local number (region_form), her question kept for then.
    messages, events = run(answer, "region_question_da")
    slots = slots_set(events)
    assert slots["pending_question"] == "akuttelefonen nummer"
    assert KB.entries[slots["last_entry_id"]].region == "all"
    said = [m for m in messages if m.get("text")]
    assert len(said) == 1 and KB.render(slots["last_entry_id"], "da").text in said[0]["text"]
    assert [e["name"] for e in events if e["event"] == "active_loop"] == ["region_form"]
    counted = payloads(messages, "answered")  # for the editors' dashboard, no text
    assert counted == [
        {
            "outcome": "region_asked",
            "language": "da",
            "entry_id": slots["last_entry_id"],
            "topic": KB.entries[slots["last_entry_id"]].topic,
        }
    ]


def test_a_question_with_a_town_in_it_is_answered_at_once_and_the_region_kept(answer):
    state = copy.deepcopy(tracker_state("region_question_da"))
    state["latest_message"]["text"] = "akuttelefonen nummer, jeg bor på Nørrebro"
    messages, events = run(answer, state)
    assert slots_set(events).get("region") == "capital"
    assert not [e for e in events if e["event"] == "active_loop"]  # not asked
    assert "1813" in messages[0]["text"]


def test_a_question_for_all_of_denmark_does_not_ask(answer):
    state = copy.deepcopy(tracker_state("region_question_da"))
    state["latest_message"]["text"] = "hvad koster indfødsretsprøven"
    messages, events = run(answer, state)
    assert not [e for e in events if e["event"] == "active_loop"]  # not asked
    assert messages  # answered (or choices offered) at once


def test_her_town_is_mapped_to_a_region_and_only_the_region_is_kept():
    from actions.region import ValidateRegionForm

    messages, events = run(ValidateRegionForm(), "region_answer_da")
    slots = slots_set(events)
    assert slots["region"] == "zealand"
    assert "Næstved" not in str(slots)
    assert messages == []


def test_a_place_we_do_not_know_gets_the_answer_for_all_of_denmark():
    from actions.region import ValidateRegionForm

    state = copy.deepcopy(tracker_state("region_answer_da"))
    state["events"][-1]["value"] = state["slots"]["region_answer"] = "ved havet"
    messages, events = run(ValidateRegionForm(), state)
    assert slots_set(events)["region"] is None
    assert [m.get("response") for m in messages] == ["utter_region_unknown"]


def test_after_her_town_the_kept_question_is_answered_for_zealand_not_copenhagen(answer):
    messages, events = run(answer, _after_form("zealand"))
    offered = _entries_offered(messages)
    text = "\n".join(m.get("text") or "" for m in messages)
    assert offered[:1] == ["out-of-hours-zealand-1818"] or "1818" in text
    assert "out-of-hours-capital-1813" not in offered and "1813" not in text
    slots = slots_set(events)  # the kept question is done with; her words are not kept
    assert slots["pending_question"] is None and slots["region_answer"] is None


def test_after_her_town_the_kept_question_is_answered_for_the_capital(answer):
    messages, _ = run(answer, _after_form("capital"))
    assert "1813" in messages[0]["text"]


def test_an_unknown_town_gets_an_answer_and_is_not_asked_again(answer):
    messages, events = run(answer, _after_form(None))
    assert messages, "her question is answered"
    assert "out-of-hours-capital-1813" not in _entries_offered(messages)
    assert not [e for e in events if e["event"] == "active_loop"]  # not asked again


@pytest.mark.parametrize(
    "answer, region",
    [
        ("بسكن بأودنسه", "southern"),  # Arabic: "in" joined to the name
        ("я живу у Копенгагені", "capital"),  # Ukrainian locative ending
        ("Odense'de oturuyorum", "southern"),  # Turkish suffix
        ("i Københavns kommune", "capital"),  # Danish genitive
        ("Aarhus", "central"),
        ("waxaan deganahay Aalborg", "north"),
    ],
)
def test_her_town_is_recognised_in_the_way_she_writes_it(answer, region):
    from actions.region import region_of_answer

    assert region_of_answer(answer) == region


@pytest.mark.parametrize("answer", ["ved havet", "في بيت صغير", "не скажу", "bilmiyorum"])
def test_words_that_are_not_a_place_give_no_region(answer):
    from actions.region import region_of_answer

    assert region_of_answer(answer) is None
