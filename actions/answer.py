"""Answers a knowledge question: one confident answer, or 2-3 choices as buttons, or an
honest "I don't know" with the offer of a counsellor."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import typed_topic
from actions.knowledge_state import state
from actions.safe import SafeAction
from common import texts
from common.contracts import KnowledgeStatus, to_custom
from knowledge.index import Index
from knowledge.regions import region_in


def _entity(tracker: Tracker, name: str) -> str | None:
    for e in tracker.latest_message.get("entities") or []:
        if e.get("entity") == name:
            return e.get("value")
    return None


def answer_text(entry_id: str, language: str) -> str:
    kb, _ = state()
    r = kb.render(entry_id, language)
    parts = [r.text]
    if r.state == "machine":
        parts.append(texts.text("utter_machine_translation_notice", language))
    if r.state == "fallback":
        parts.insert(0, texts.text("utter_answer_in_source_language", language))
    parts.append(
        texts.text(
            "utter_answer_source",
            language,
            source=urlparse(r.sources[0]).netloc,
            date=r.last_reviewed,
        )
    )
    return "\n\n".join(parts)


# Passed as her region when she named no place we know: answers for any one region are
# ruled out (Index.search), so she gets the one for all of Denmark, and is not asked again.
NO_REGION = "unknown"


def _last_action(tracker: Tracker) -> str | None:
    """The action that ran before this one (Rasa does not send this action's own event)."""
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None


class ActionAnswerQuestion(SafeAction):
    def name(self) -> str:
        return "action_answer_question"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        topic = typed_topic(tracker)
        if topic:  # her words name the topic the form asks for: no answer, the form goes on
            return [SlotSet("handoff_topic", topic)]
        kb, index = state()
        language = tracker.get_slot("language") or "en"
        chosen = _entity(tracker, "entry_id")
        if chosen in kb.entries:
            self._answer(dispatcher, chosen, language)
            return [SlotSet("last_entry_id", chosen)]

        events: list[dict[str, Any]] = []
        if _last_action(tracker) == "region_form":  # her town is known now: her question
            text = tracker.get_slot("pending_question") or ""
            region = tracker.get_slot("region") or NO_REGION
            events += [SlotSet("pending_question", None), SlotSet("region_answer", None)]
            may_ask = False
        else:
            text = tracker.latest_message.get("text") or ""
            named = region_in(text)  # remembered: later answers use her region too
            if named:
                events.append(SlotSet("region", named))
            region = named or tracker.get_slot("region")
            may_ask = region is None and tracker.active_loop_name is None

        decision = Index.decide(index.search(text, language, region))
        in_danger = (tracker.latest_message.get("intent") or {}).get("name") == "danger"
        if in_danger and decision.kind != "answer":
            return events  # after the emergency numbers, no menus and no "I don't know"
        if (
            may_ask
            and not in_danger
            and decision.kind != "none"
            and kb.entries[decision.hits[0].entry_id].region != "all"
        ):
            # The best answer is for one region and hers is unknown: region_form asks her
            # town, then this action answers the question kept here (data/rules/region.yml).
            return events + [SlotSet("pending_question", text), ActiveLoop("region_form")]
        if decision.kind == "answer":
            entry_id = decision.hits[0].entry_id
            self._answer(dispatcher, entry_id, language)
            events.append(SlotSet("last_entry_id", entry_id))
        elif decision.kind == "clarify":
            buttons = [
                {
                    "title": kb.render(h.entry_id, language).title,
                    "payload": "/ask_question" + json.dumps({"entry_id": h.entry_id}),
                }
                for h in decision.hits
            ]
            dispatcher.utter_message(text=texts.text("utter_clarify", language), buttons=buttons)
        else:
            dispatcher.utter_message(text=texts.text("utter_no_answer", language))
        return events

    @staticmethod
    def _answer(dispatcher: CollectingDispatcher, entry_id: str, language: str) -> None:
        feedback = texts.response("utter_ask_feedback", language)
        dispatcher.utter_message(
            text=answer_text(entry_id, language) + "\n\n" + feedback["text"],
            buttons=feedback.get("buttons", []),
        )


class ActionKnowledgeStatus(SafeAction):
    """Called by the gateway's /health, not by dialogue: proves the index answers."""

    def name(self) -> str:
        return "action_knowledge_status"

    def act(self, dispatcher, tracker, domain):
        kb, index = state()
        status = KnowledgeStatus(
            entries=len(kb.entries), rows=int(len(index.row_entry)), fingerprint=kb.fingerprint()
        )
        dispatcher.utter_message(json_message=to_custom(status))
        return []
