"""What an action tells the gateway besides the text she reads: the one definition of it.

Rasa passes an action's `json_message` to the REST answer unchanged, as `custom`. The actions
(actions/, the action server) build these payloads with `to_custom`; the gateway
(bot/core/pipeline.py) reads them back with `from_custom`. Both run on Python 3.11 and import
this module, so a field renamed on one side fails the type checks and tests on the other.

    {"directive": {"kind": "handoff", "topic": "violence", ...}}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from common.vocab import HANDOFF_TOPICS, LANGUAGES

Topic = Literal[HANDOFF_TOPICS]  # type: ignore[valid-type]
Language = Literal[LANGUAGES]  # type: ignore[valid-type]
Priority = Literal["normal", "high", "emergency"]
UnansweredReason = Literal["no_answer", "clarify", "not_helpful"]


class _Directive(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Handoff(_Directive):
    """She confirmed she wants a person: the gateway opens a referral case."""

    kind: Literal["handoff"] = "handoff"
    topic: Topic = "other"
    language: Language = "en"
    priority: Priority = "normal"
    woman_counsellor: bool | None = None  # None: she did not say
    contact_later: bool = False  # she agreed that a counsellor may write later


class Feedback(_Directive):
    """ "Was this helpful?": stored anonymously, with no link to her."""

    kind: Literal["feedback"] = "feedback"
    entry_id: str | None = None
    helpful: bool


class Unanswered(_Directive):
    """The bot could not answer her well: kept for editors with the text of the message it
    came with (bot/storage/unanswered.py), her language, and no link anyone is shown.

    `reason`: "no_answer" (the honest "I don't know"), "clarify" (asked back which she
    meant), "not_helpful" ("Was this helpful? No"). A "No" is one row: `ref` names it (Rasa's
    id of that message), and her words right after it are added to the same row (a second
    directive with the same `ref`). `quote` False: her message was a button, not her words."""

    kind: Literal["unanswered"] = "unanswered"
    reason: UnansweredReason
    language: Language = "en"
    entry_id: str | None = Field(None, max_length=128)  # the answer she rated or was offered
    ref: str | None = Field(None, max_length=64)
    quote: bool = True


AnswerOutcome = Literal["answered", "both", "asked_back", "dont_know", "region_asked"]


class Answered(_Directive):
    """What the bot did with her question, for the editors' dashboard: counted by day,
    language, outcome and entry (bot/storage/stats.py), with no link to her and no text.

    `outcome`: "answered" (one answer), "both" (the two likeliest answers), "asked_back"
    (which of these did she mean), "dont_know" (the honest "I don't know"), "region_asked"
    (the general answer, and her town asked for the local one)."""

    kind: Literal["answered"] = "answered"
    outcome: AnswerOutcome
    language: Language = "en"
    entry_id: str | None = Field(None, max_length=128)
    topic: str | None = Field(None, max_length=32)


class SetLanguage(_Directive):
    """She chose a language: it wins over detection from now on."""

    kind: Literal["set_language"] = "set_language"
    language: Language


class Erase(_Directive):
    """She confirmed "delete my data": the gateway deletes her contact and Rasa's tracker."""

    kind: Literal["erase"] = "erase"


class ActionFailed(_Directive):
    """An action raised: the gateway answers honestly and keeps her message for a retry."""

    kind: Literal["action_failed"] = "action_failed"
    action: str = ""


class KnowledgeStatus(_Directive):
    """The answer to the health probe (action_knowledge_status): the index is loaded."""

    kind: Literal["knowledge_status"] = "knowledge_status"
    entries: int
    rows: int
    fingerprint: str


Directive = Annotated[
    Handoff
    | Feedback
    | Unanswered
    | Answered
    | SetLanguage
    | Erase
    | ActionFailed
    | KnowledgeStatus,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[Directive] = TypeAdapter(Directive)


class MalformedDirective(ValueError):
    """A `custom` payload that claims to be a directive but does not fit the contract."""


def to_custom(directive: _Directive) -> dict[str, Any]:
    """The `json_message` an action sends for this directive."""
    return {"directive": directive.model_dump(mode="json")}


def from_custom(custom: object) -> Directive | None:
    """The directive in one Rasa answer's `custom`, None when it carries none.
    Raises MalformedDirective when it carries one that breaks the contract."""
    if not isinstance(custom, dict) or "directive" not in custom:
        return None
    try:
        return _ADAPTER.validate_python(custom["directive"])
    except ValidationError as exc:
        raise MalformedDirective(str(exc)) from exc
