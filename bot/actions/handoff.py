"""Handoff to a human counsellor. Until the referral queue exists, say honestly that nobody
can be reached yet, keep her message, and give the numbers that work now."""

from __future__ import annotations


from bot import texts
from bot.actions.safe import SafeAction


class ActionRequestHandoff(SafeAction):
    def name(self) -> str:
        return "action_request_handoff"

    def act(self, dispatcher, tracker, domain):
        language = tracker.get_slot("language") or "en"
        dispatcher.utter_message(text=texts.text("utter_handoff_unavailable", language))
        return []
