"""Her municipality, asked only when the best answer depends on the region (the
out-of-hours doctor's number differs by region). action_answer_question decides to ask;
region_form asks utter_ask_region_answer; this validator maps her answer to a region with
knowledge/regions.py and remembers the region (slot `region`), never the town she wrote."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from knowledge.regions import region_in


class ValidateRegionForm(FormValidationAction):
    def name(self) -> str:
        return "validate_region_form"

    def validate_region_answer(self, value: Any, dispatcher: CollectingDispatcher,
                               tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        region = region_in(str(value or ""))
        if region is None:  # asked once only: she gets the answer for all of Denmark
            dispatcher.utter_message(response="utter_region_unknown")
        # The slot must be filled for the form to end; her words are not kept.
        return {"region_answer": "given", "region": region}
