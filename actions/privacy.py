"""Erasure on her request. The gateway owns the stored conversation: this action confirms in
her language and tells the gateway (custom payload `erase`) to delete everything about her."""

from __future__ import annotations

from rasa_sdk.events import Restarted

from actions.safe import SafeAction
from common import texts
from common.contracts import Erase, to_custom


class ActionDeleteData(SafeAction):
    def name(self) -> str:
        return "action_delete_data"

    def act(self, dispatcher, tracker, domain):
        language = tracker.get_slot("language") or "en"
        dispatcher.utter_message(
            text=texts.text("utter_deleted", language), json_message=to_custom(Erase())
        )
        return [Restarted()]
