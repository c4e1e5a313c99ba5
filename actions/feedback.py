"""'Was this helpful?': the answer buttons send /feedback_positive or /feedback_negative.

The gateway stores an anonymous Feedback row from the custom payload
{"feedback": {"entry_id": ..., "helpful": ...}} (.helper-notes/contracts.md): the entry is the
last answer she got (slot last_entry_id, set by action_answer_question), so editors see which
answers do not help. Nothing about her goes with it.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import unanswered
from actions.safe import SafeAction
from common.contracts import Feedback, to_custom


class ActionFeedback(SafeAction):
    def name(self) -> str:
        return "action_feedback"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        helpful = (tracker.latest_message.get("intent") or {}).get("name") == "feedback_positive"
        feedback = Feedback(entry_id=tracker.get_slot("last_entry_id"), helpful=helpful)
        dispatcher.utter_message(json_message=to_custom(feedback))
        if not helpful:  # kept for editors too, with what she writes next (actions/unanswered.py)
            unanswered.keep(
                dispatcher,
                tracker,
                "not_helpful",
                feedback.entry_id,
                ref=unanswered.message_id(tracker),
                quote=False,  # "No" is a button, not her words
            )
        # On "no", the rule (data/rules/feedback.yml) follows with the offer of a counsellor.
        dispatcher.utter_message(
            response="utter_feedback_thanks" if helpful else "utter_feedback_sorry"
        )
        return []
