"""action_create_referral and the handoff form's validator, on saved trackers: the request
the gateway turns into a referral case (common/contracts.py Handoff) carries what routing
needs, marks a conversation with danger as an emergency, and nothing is sent when she says no."""

from __future__ import annotations

import copy

from actions.handoff import ActionCreateReferral, ValidateHandoffForm
from tests.unit.actions_support import payloads, run, slots_set, tracker_state

FORM_SLOTS = {"handoff_topic", "handoff_woman", "handoff_contact", "handoff_confirm"}


def test_request_after_the_danger_offer_is_an_emergency_with_her_answers():
    messages, events = run(ActionCreateReferral(), "handoff_after_danger_ar")
    assert payloads(messages, "handoff") == [
        {
            "topic": "violence",
            "language": "ar",
            "priority": "emergency",
            "woman_counsellor": True,
            "contact_later": False,
        }
    ]


def test_the_action_itself_says_nothing_about_the_case():
    # The gateway adds utter_handoff_queued/_closed/_already with the queue's real figures.
    messages, _ = run(ActionCreateReferral(), "handoff_after_danger_ar")
    assert [m for m in messages if m.get("text") or m.get("response")] == []


def test_request_without_danger_in_this_session_is_normal_priority():
    # Danger in an earlier, expired session does not make today's question an emergency.
    messages, _ = run(ActionCreateReferral(), "handoff_residence_so")
    assert payloads(messages, "handoff") == [
        {
            "topic": "residence",
            "language": "so",
            "priority": "normal",
            "woman_counsellor": False,
            "contact_later": True,
        }
    ]


def test_no_at_the_confirmation_sends_nothing_and_says_so_kindly():
    messages, events = run(ActionCreateReferral(), "handoff_declined_tr")
    assert payloads(messages, "handoff") == []
    assert [m.get("response") for m in messages] == ["utter_handoff_cancelled"]
    assert slots_set(events) == {slot: None for slot in FORM_SLOTS}


def test_answers_are_forgotten_after_the_request_so_a_new_one_asks_again():
    _, events = run(ActionCreateReferral(), "handoff_after_danger_ar")
    assert slots_set(events) == {slot: None for slot in FORM_SLOTS}


def test_a_failure_is_reported_to_the_gateway_not_swallowed():
    state = tracker_state("handoff_after_danger_ar")
    state["events"] = None  # a broken tracker: the action must fail loudly
    messages, _ = run(ActionCreateReferral(), state)
    assert payloads(messages, "action_failed") == [{"action": "action_create_referral"}]
    assert payloads(messages, "handoff") == []


def _validate(state: dict) -> dict:
    _, events = run(ValidateHandoffForm(), state)
    return slots_set(events)


def _form_state(slot: str, value) -> dict:
    state = copy.deepcopy(tracker_state("handoff_residence_so"))
    state["active_loop"] = {"name": "handoff_form"}
    state["slots"].update(
        {
            "handoff_topic": None,
            "handoff_woman": None,
            "handoff_contact": None,
            "handoff_confirm": None,
            "requested_slot": slot,
            slot: value,
        }
    )
    # Rasa sends the slots extracted from her latest message as events after it.
    last_user = max(i for i, e in enumerate(state["events"]) if e["event"] == "user")
    state["events"] = state["events"][: last_user + 1] + [
        {"event": "slot", "name": slot, "value": value}
    ]
    return state


def test_a_topic_button_fills_the_topic():
    assert _validate(_form_state("handoff_topic", "health"))["handoff_topic"] == "health"


def test_an_unknown_topic_is_asked_again():
    assert _validate(_form_state("handoff_topic", "football"))["handoff_topic"] is None


def test_no_at_the_topic_question_ends_the_form_as_declined():
    slots = _validate(_form_state("handoff_topic", "none"))
    assert slots["handoff_confirm"] is False
    assert all(slots[s] is not None for s in FORM_SLOTS)  # nothing more is asked
