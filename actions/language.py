"""Changing language on request: a button payload carries the code; free text names it
("english please", "أريد الصومالية", "skift til dansk"), looked up in langtools/language_names.yml.
The gateway stores the choice (custom payload `set_language`), and it wins over detection."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from rasa_sdk.events import SlotSet

from actions.safe import SafeAction
from common import texts
from common.contracts import SetLanguage, to_custom
from langtools.names import NameLookup

NAMES = Path(__file__).resolve().parent.parent / "langtools" / "language_names.yml"


@lru_cache(maxsize=1)
def _lookup() -> NameLookup:
    data = yaml.safe_load(NAMES.read_text(encoding="utf-8"))
    return NameLookup({name.casefold(): code for code, names in data.items() for name in names})


def language_named_in(text: str) -> str | None:
    return _lookup().find(text.casefold())


class ActionChangeLanguage(SafeAction):
    def name(self) -> str:
        return "action_change_language"

    def act(self, dispatcher, tracker, domain):
        entities = tracker.latest_message.get("entities") or []
        code = next(
            (
                e["value"]
                for e in entities
                if e.get("entity") == "language" and e.get("extractor") != "LanguageDetector"
            ),
            None,
        )
        code = code or language_named_in(tracker.latest_message.get("text") or "")
        if code not in texts.languages_of("utter_language_changed") | {"en"}:
            r = texts.response("utter_ask_language", None)
            dispatcher.utter_message(text=r["text"], buttons=r.get("buttons", []))
            return []
        dispatcher.utter_message(
            text=texts.text("utter_language_changed", code),
            json_message=to_custom(SetLanguage(language=code)),
        )
        return [SlotSet("language", code)]
