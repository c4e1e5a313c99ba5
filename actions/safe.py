"""A base for our actions: an exception becomes an explicit error the gateway can see.

Rasa answers 200 with whatever it had when a custom action fails, so a woman could get only
the welcome line and nothing else. Instead the failure is reported as a custom payload
`ActionFailed` (common/contracts.py); the gateway then answers honestly and keeps her message to
retry (bot/core/pipeline.py).
"""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from common.contracts import ActionFailed, to_custom

log = logging.getLogger(__name__)


class SafeAction(Action, metaclass=ABCMeta):  # abstract: rasa-sdk does not register it
    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]: ...

    def run(self, dispatcher, tracker, domain):
        try:
            return self.act(dispatcher, tracker, domain)
        except Exception:
            log.exception("action %s failed", self.name())
            dispatcher.messages.clear()
            dispatcher.utter_message(json_message=to_custom(ActionFailed(action=self.name())))
            return []
