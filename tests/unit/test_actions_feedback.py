"""action_feedback on a saved tracker: "was this helpful?" reaches the editors as the entry
id of the answer she rated (anonymous), and she is thanked or told what else she can do."""

from __future__ import annotations

import copy

from actions.feedback import ActionFeedback
from tests.unit.actions_support import payloads, run, tracker_state


def test_not_helpful_names_the_answer_she_rated():
    messages, events = run(ActionFeedback(), "feedback_negative_da")
    assert payloads(messages, "feedback") == [
        {"entry_id": "health-card-sundhedskort", "helpful": False}
    ]
    assert [m.get("response") for m in messages if m.get("response")] == ["utter_feedback_sorry"]
    assert events == []


def test_helpful_is_recorded_and_thanked():
    state = copy.deepcopy(tracker_state("feedback_negative_da"))
    state["latest_message"] = {
        "text": "/feedback_positive",
        "intent": {"name": "feedback_positive", "confidence": 1.0},
        "entities": [],
    }
    messages, _ = run(ActionFeedback(), state)
    assert payloads(messages, "feedback") == [
        {"entry_id": "health-card-sundhedskort", "helpful": True}
    ]
    assert [m.get("response") for m in messages if m.get("response")] == ["utter_feedback_thanks"]


def test_feedback_carries_nothing_about_her():
    messages, _ = run(ActionFeedback(), "feedback_negative_da")
    assert set(payloads(messages, "feedback")[0]) == {"entry_id", "helpful"}
