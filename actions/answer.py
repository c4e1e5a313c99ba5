"""Answers a knowledge question: the best answer (with "or did you mean" buttons when it is
less than sure), the two best answers when one of two is probably right, 2-3 choices as
buttons when nothing is likely, or an honest "I don't know" with the offer of a counsellor
(knowledge/index.py, Index.decide)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import unanswered
from actions.handoff import typed_topic
from actions.knowledge_state import state
from actions.safe import SafeAction
from common import texts
from common.contracts import Answered, KnowledgeStatus, to_custom
from common.vocab import LANGUAGES
from knowledge import model_store
from knowledge.index import CLARIFY_THRESHOLD, Index
from knowledge.regions import region_in
from langtools import query_vector

# After a disclosure, answers come only from these topics (knowledge/entries/<topic>/).
DISCLOSURE_TOPICS = {"violence", "emergency", "residence"}
SHELTER_ENTRY = "violence-crisis-shelter"  # acute need: a place to sleep tonight


def _count(
    dispatcher: CollectingDispatcher, kb, outcome: str, language: str, entry_id: str | None = None
) -> None:
    """Tells the gateway what was done with her question, for the editors' dashboard
    (common/contracts.py `Answered`: no text, no link to her)."""
    topic = kb.entries[entry_id].topic if entry_id in kb.entries else None
    directive = Answered(
        outcome=outcome,  # type: ignore[arg-type]
        language=language if language in LANGUAGES else "en",
        entry_id=entry_id,
        topic=topic,
    )
    dispatcher.utter_message(json_message=to_custom(directive))


def _user_metadata(tracker: Tracker) -> dict:
    """The metadata the gateway sent with her latest message (language, danger screening)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event.get("metadata") or {}
    return tracker.latest_message.get("metadata") or {}


def _entity(tracker: Tracker, name: str) -> str | None:
    for e in tracker.latest_message.get("entities") or []:
        if e.get("entity") == name:
            return e.get("value")
    return None


def _shared_vector(metadata: dict, text: str):
    """The vector of `text` that came with her message from the gateway, where it is one of
    this index's model (langtools/query_vector.py); None, and the index encodes it."""
    if not model_store.shares_gateway_vectors():
        return None
    return query_vector.unpack(metadata, text)


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
            _count(dispatcher, kb, "answered", language, chosen)
            return [SlotSet("last_entry_id", chosen)]

        events: list[dict[str, Any]] = []
        kept = False  # at most one unanswered question per message (actions/unanswered.py)
        if _last_action(tracker) == "region_form":  # her town is known now: her question
            text = tracker.get_slot("pending_question") or ""
            region = tracker.get_slot("region") or NO_REGION
            events += [SlotSet("pending_question", None), SlotSet("region_answer", None)]
            may_ask = False
            kept = True  # this message is her town, not the question: nothing to keep
        else:
            text = tracker.latest_message.get("text") or ""
            named = region_in(text, numbers=False)  # remembered: later answers use it too
            if named:
                events.append(SlotSet("region", named))
            region = named or region_in(text) or tracker.get_slot("region")
            may_ask = region is None and tracker.active_loop_name is None

        metadata = _user_metadata(tracker)
        query = _shared_vector(metadata, text)
        in_danger = (tracker.latest_message.get("intent") or {}).get("name") == "danger"
        if in_danger:
            return events + self._after_disclosure(
                dispatcher,
                kb,
                index,
                text,
                language,
                region,
                acute=metadata.get("danger_kind") == "acute",
                query=query,
            )
        rated = None if kept else unanswered.rated_just_before(tracker)
        if rated is not None:  # her words right after "not helpful": they join that "No"
            rated_entry = tracker.get_slot("last_entry_id")
            kept = unanswered.keep(dispatcher, tracker, "not_helpful", rated_entry, ref=rated)
        hits = index.search(text, language, region, k=4, query=query)

        def topic(entry_id: str) -> str:
            return kb.entries[entry_id].topic

        decision = Index.decide(hits, text, index.nearest_gap(text, language, hits, query), topic)
        best = kb.entries[hits[0].entry_id] if hits else None
        if may_ask and decision.kind != "none" and best is not None and best.region != "all":
            # The best answer depends on her region and hers is unknown: what holds everywhere
            # now, and her town asked in the same reply for the local detail; region_form
            # then answers the question kept here (data/rules/region.yml).
            general_hits = index.search(text, language, NO_REGION, k=4, query=query)
            general = Index.decide(general_hits, text)  # no gap
            if general.kind != "none":
                self._answer(dispatcher, general.hits[0].entry_id, language, feedback=False)
                events.append(SlotSet("last_entry_id", general.hits[0].entry_id))
            _count(
                dispatcher,
                kb,
                "region_asked",
                language,
                general.hits[0].entry_id if general.kind != "none" else None,
            )
            return events + [SlotSet("pending_question", text), ActiveLoop("region_form")]
        if decision.kind == "none":
            dispatcher.utter_message(text=texts.text("utter_no_answer", language))
            _count(dispatcher, kb, "dont_know", language)
            if not kept:
                unanswered.keep(dispatcher, tracker, "no_answer")
            return events
        if decision.kind == "clarify":
            # nothing is likely enough to answer: asking back is kinder than a coin toss
            dispatcher.utter_message(
                text=texts.text("utter_clarify", language),
                buttons=self._choices(kb, [h.entry_id for h in decision.hits], language),
            )
            _count(dispatcher, kb, "asked_back", language, hits[0].entry_id)
            if not kept:
                unanswered.keep(dispatcher, tracker, "clarify", hits[0].entry_id)
            return events
        if decision.kind == "both":
            # one of two is probably right: both answers, each short, rather than a question
            first, second = (h.entry_id for h in decision.hits)
            dispatcher.utter_message(text=texts.text("utter_two_answers", language))
            self._answer(dispatcher, first, language, feedback=False)
            self._answer(dispatcher, second, language)
            _count(dispatcher, kb, "both", language, first)
            return events + [SlotSet("last_entry_id", first)]
        entry_id = hits[0].entry_id
        self._answer(dispatcher, entry_id, language)
        _count(dispatcher, kb, "answered", language, entry_id)
        events.append(SlotSet("last_entry_id", entry_id))
        if runners_up := [h.entry_id for h in decision.hits[1:]]:
            dispatcher.utter_message(
                text=texts.text("utter_or_did_you_mean", language),
                buttons=self._choices(kb, runners_up, language),
            )
        return events

    @staticmethod
    def _choices(kb, entry_ids: list[str], language: str) -> list[dict]:
        return [
            {
                "title": kb.render(e, language).title,
                "payload": "/ask_question" + json.dumps({"entry_id": e}),
            }
            for e in entry_ids
        ]

    def _after_disclosure(
        self, dispatcher, kb, index, text, language, region, acute, query=None
    ) -> list:
        """After a disclosure (the emergency numbers are already given): an answer only from
        violence, safety and residence-after-violence, never "I am not sure what you mean";
        acute need (no violent words: "we have nowhere to sleep") gets the shelter answer.
        The offer of a person follows (data/rules/safety.yml)."""
        hits = [
            h
            for h in index.search(text, language, region, k=12, query=query)
            if kb.entries[h.entry_id].topic in DISCLOSURE_TOPICS
        ]
        entry_id = hits[0].entry_id if hits and hits[0].score >= CLARIFY_THRESHOLD else None
        if acute:  # a place to sleep tonight comes before anything her words also matched
            entry_id = SHELTER_ENTRY
        if entry_id is None:
            return []
        self._answer(dispatcher, entry_id, language, feedback=False)
        return [SlotSet("last_entry_id", entry_id)]

    @staticmethod
    def _answer(
        dispatcher: CollectingDispatcher, entry_id: str, language: str, feedback: bool = True
    ) -> None:
        if not feedback:  # after a disclosure, or before her town is asked: no survey
            dispatcher.utter_message(text=answer_text(entry_id, language))
            return
        ask = texts.response("utter_ask_feedback", language)
        dispatcher.utter_message(
            text=answer_text(entry_id, language) + "\n\n" + ask["text"],
            buttons=ask.get("buttons", []),
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
