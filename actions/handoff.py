"""Handoff to a human counsellor: the end of handoff_form (data/rules/handoff.yml).

handoff_form asks only what routing needs, each as buttons in her language: the topic, whether
she prefers a woman, whether a counsellor may write to her here later, and a confirmation. On
"yes", action_create_referral hands the request to the gateway as the custom payload
{"handoff": {...}} (.helper-notes/contracts.md); the gateway creates the case and tells her
what happens next with the real queue figures (utter_handoff_queued / _closed / _already).
This action says nothing about the case itself, so she never reads a promise the queue did
not make. On "no" she is told kindly that nobody was asked.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.knowledge_state import state
from actions.safe import SafeAction
from common.contracts import Handoff, to_custom
from common.vocab import HANDOFF_TOPICS, LANGUAGES
from knowledge.index import Index

FORM_SLOTS = ("handoff_topic", "handoff_woman", "handoff_contact", "handoff_confirm")

# A knowledge entry's folder (knowledge/entries/<folder>/) -> the referral topic it belongs to.
# As with the buttons, "residence" is "residence or citizenship": permanent residence, in
# the citizenship folder, is what she most often means by either.
TOPIC_OF_FOLDER = {
    "violence": "violence",
    "emergency": "violence",
    "health": "health",
    "pregnancy": "health",
    "residence": "residence",
    "citizenship": "residence",
    "danish": "danish",
    "rights": "rights",
    "everyday": "everyday",
    "organisations": "other",
}


def typed_topic(tracker: Tracker) -> str | None:
    """The topic she typed in words when the form asked for it ("about my residence permit"),
    not with a button: the referral topic of the knowledge entry her words match best. The
    topic only routes the case, so the best match is enough even where retrieval would offer
    choices. None when the form is not asking the topic or her words match nothing."""
    if (
        tracker.active_loop_name != "handoff_form"
        or tracker.get_slot("requested_slot") != "handoff_topic"
    ):
        return None
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    text = tracker.latest_message.get("text") or ""
    if (
        intent not in ("ask_question", "nlu_fallback", "request_human")
        or not text.strip()
        or text.startswith("/")
    ):
        return None
    kb, index = state()
    hits = index.search(text, tracker.get_slot("language") or "en", tracker.get_slot("region"))
    decision = Index.decide(hits, text)
    if decision.kind == "none":
        return None
    return TOPIC_OF_FOLDER.get(kb.entries[decision.hits[0].entry_id].topic)


def danger_in_session(tracker: Tracker) -> bool:
    """Whether she signalled danger in this conversation session (the danger offer of a
    counsellor only follows such a message)."""
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            return False
        if (
            event.get("event") == "user"
            and ((event.get("parse_data") or {}).get("intent") or {}).get("name") == "danger"
        ):
            return True
    return False


class ValidateHandoffForm(FormValidationAction):
    def name(self) -> str:
        return "validate_handoff_form"

    def extract_handoff_topic(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("handoff_topic"):  # action_answer_question found it this turn
            return {}
        topic = typed_topic(tracker)
        return {"handoff_topic": topic} if topic else {}

    def validate_handoff_topic(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value == "none":  # "no" to the first question: she does not want a person now
            return {
                "handoff_topic": "none",
                "handoff_woman": False,
                "handoff_contact": False,
                "handoff_confirm": False,
            }
        return {"handoff_topic": value if value in HANDOFF_TOPICS else None}


class ActionCreateReferral(SafeAction):
    def name(self) -> str:
        return "action_create_referral"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        reset = [SlotSet(slot, None) for slot in FORM_SLOTS]  # a later request asks afresh
        if tracker.get_slot("handoff_confirm") is not True:
            dispatcher.utter_message(response="utter_handoff_cancelled")
            return reset
        woman = tracker.get_slot("handoff_woman")
        topic = tracker.get_slot("handoff_topic")
        language = tracker.get_slot("language")
        request = Handoff(
            topic=topic if topic in HANDOFF_TOPICS else "other",
            language=language if language in LANGUAGES else "en",
            priority="emergency" if danger_in_session(tracker) else "normal",
            woman_counsellor=woman if isinstance(woman, bool) else None,
            contact_later=tracker.get_slot("handoff_contact") is True,
        )
        dispatcher.utter_message(json_message=to_custom(request))
        return reset
