"""Her municipality, asked only when the best answer depends on the region (the
out-of-hours doctor's number differs by region). action_answer_question decides to ask;
region_form asks utter_ask_region_answer; this validator maps her answer to a region with
knowledge/regions.py and remembers the region (slot `region`), never the town she wrote."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from knowledge.regions import region_in

# She answers "where do you live?", so a place name with a grammatical ending is still her
# town: Arabic joins "in"/"and" to the word (بأودنسه), Ukrainian, Turkish and Danish add
# endings (Копенгагені, Odense'de, Københavns).
_ARABIC_PREFIXES = ("وب", "فب", "وال", "بال", "ال", "ب", "و", "ف", "ل")
_MAX_ENDING = 3


def _stems(word: str) -> list[str]:
    bases = [word] + [
        word[len(p) :] for p in _ARABIC_PREFIXES if word.startswith(p) and len(word) - len(p) >= 3
    ]
    return [
        b[: len(b) - cut]
        for b in bases
        for cut in range(_MAX_ENDING + 1)
        if len(b) - cut >= 4 or cut == 0
    ]


def region_of_answer(answer: str) -> str | None:
    found = region_in(answer)
    if found:
        return found
    for word in re.findall(r"\w+", answer):
        for stem in _stems(word):
            if (found := region_in(stem)) is not None:
                return found
    return None


class ValidateRegionForm(FormValidationAction):
    def name(self) -> str:
        return "validate_region_form"

    def validate_region_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        region = region_of_answer(str(value or ""))
        if region is None:  # asked once only: she gets the answer for all of Denmark
            dispatcher.utter_message(response="utter_region_unknown")
        # The slot must be filled for the form to end; her words are not kept.
        return {"region_answer": "given", "region": region}
