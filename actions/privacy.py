"""Erasure on her request. The gateway owns the stored conversation: this action confirms in
her language and tells the gateway (custom payload `erase`) to delete everything about her."""

from __future__ import annotations

from rasa_sdk.events import Restarted

from bot import texts
from bot.actions.safe import SafeAction


class ActionDeleteData(SafeAction):
    def name(self) -> str:
        return "action_delete_data"

    def act(self, dispatcher, tracker, domain):
        language = tracker.get_slot("language") or "en"
        dispatcher.utter_message(text=texts.text("utter_deleted", language),
                                 json_message={"erase": True})
        return [Restarted()]
