"""The contract between the actions and the gateway (common/contracts.py): what an action
sends survives Rasa's JSON unchanged and is read back as the same directive; anything that
claims to be a directive but breaks the contract is refused loudly (the gateway then keeps her
message for a retry) instead of opening a wrong case or storing wrong feedback."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from common.contracts import (
    ActionFailed,
    Erase,
    Feedback,
    Handoff,
    KnowledgeStatus,
    MalformedDirective,
    SetLanguage,
    Unanswered,
    from_custom,
    to_custom,
)
from common.vocab import HANDOFF_TOPICS, LANGUAGES

EXAMPLES = [
    Handoff(
        topic="violence",
        language="ar",
        priority="emergency",
        woman_counsellor=True,
        contact_later=True,
    ),
    Handoff(),
    Handoff(woman_counsellor=False),
    Feedback(entry_id="health/gp-registration", helpful=True),
    Feedback(helpful=False),
    Unanswered(reason="not_helpful", language="so", entry_id="health/gp", ref="ab12", quote=False),
    Unanswered(reason="no_answer"),
    SetLanguage(language="ti"),
    Erase(),
    ActionFailed(action="action_answer_question"),
    ActionFailed(),
    KnowledgeStatus(entries=120, rows=2400, fingerprint="sha256:abc"),
]


def through_rasa(custom: dict) -> dict:
    """Rasa passes json_message on as JSON: what arrives is what survives a round trip."""
    return json.loads(json.dumps(custom))


@pytest.mark.parametrize("directive", EXAMPLES, ids=lambda d: f"{d.kind}")
def test_every_directive_survives_the_round_trip(directive):
    back = from_custom(through_rasa(to_custom(directive)))
    assert type(back) is type(directive)
    assert back == directive


def test_every_kind_has_an_example():
    kinds = {d.kind for d in EXAMPLES}
    assert kinds == {
        "handoff",
        "feedback",
        "unanswered",
        "set_language",
        "erase",
        "action_failed",
        "knowledge_status",
    }


def test_the_wire_format_of_a_handoff_is_what_the_gateway_reads():
    assert to_custom(Handoff(topic="health", language="so", woman_counsellor=True)) == {
        "directive": {
            "kind": "handoff",
            "topic": "health",
            "language": "so",
            "priority": "normal",
            "woman_counsellor": True,
            "contact_later": False,
        }
    }


def test_a_handoff_with_only_the_kind_gets_safe_defaults():
    d = from_custom({"directive": {"kind": "handoff"}})
    assert d == Handoff(
        topic="other", language="en", priority="normal", woman_counsellor=None, contact_later=False
    )


@pytest.mark.parametrize("topic", HANDOFF_TOPICS)
def test_every_referral_topic_is_accepted(topic):
    assert from_custom({"directive": {"kind": "handoff", "topic": topic}}).topic == topic


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_served_language_can_be_chosen(language):
    d = from_custom({"directive": {"kind": "set_language", "language": language}})
    assert d == SetLanguage(language=language)


@pytest.mark.parametrize(
    "directive",
    [
        {"kind": "handoff", "topic": "astrology"},
        {"kind": "handoff", "language": "de"},
        {"kind": "handoff", "priority": "urgent"},
        {"kind": "handoff", "woman_counsellor": "perhaps"},
        {"kind": "feedback"},  # helpful is required
        {"kind": "feedback", "helpful": "maybe"},
        {"kind": "set_language"},
        {"kind": "set_language", "language": "xx"},
        {"kind": "knowledge_status", "entries": 3, "rows": 40},
        {"kind": "knowledge_status", "entries": "many", "rows": 40, "fingerprint": "f"},
        {"kind": "action_failed", "action": ["a", "b"]},
    ],
    ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items())[:60],
)
def test_a_directive_that_breaks_the_contract_is_refused(directive):
    with pytest.raises(MalformedDirective):
        from_custom({"directive": directive})


@pytest.mark.parametrize("kind", ["delete_everything", "Handoff", "", None, 3])
def test_an_unknown_kind_is_refused(kind):
    with pytest.raises(MalformedDirective):
        from_custom({"directive": {"kind": kind}})


def test_a_directive_without_a_kind_is_refused():
    with pytest.raises(MalformedDirective):
        from_custom({"directive": {"topic": "violence", "language": "ar"}})


@pytest.mark.parametrize(
    "directive",
    [
        {"kind": "erase", "everything": True},
        {"kind": "handoff", "topic": "health", "phone": "+4512345678"},
        {"kind": "feedback", "helpful": True, "contact_id": 7},
        {"kind": "set_language", "language": "da", "region": "84"},
    ],
    ids=lambda d: d["kind"],
)
def test_extra_fields_are_refused(directive):
    with pytest.raises(MalformedDirective, match="xtra"):
        from_custom({"directive": directive})


@pytest.mark.parametrize("directive", ["handoff", None, ["handoff"], 42])
def test_a_directive_that_is_not_an_object_is_refused(directive):
    with pytest.raises(MalformedDirective):
        from_custom({"directive": directive})


@pytest.mark.parametrize(
    "custom",
    [None, "text", 42, [], ["directive"], {}, {"handoff": {"topic": "violence"}}, {"x": 1}],
    ids=repr,
)
def test_an_answer_without_a_directive_has_none(custom):
    assert from_custom(custom) is None


def test_the_error_is_also_a_value_error_for_callers_that_catch_broadly():
    assert issubclass(MalformedDirective, ValueError)


def test_directives_cannot_be_changed_after_they_are_read():
    d = from_custom({"directive": {"kind": "handoff", "priority": "normal"}})
    with pytest.raises(ValidationError):
        d.priority = "emergency"


def test_building_a_directive_with_a_wrong_value_fails_on_the_action_side_already():
    with pytest.raises(ValidationError):
        Handoff(topic="astrology")
    with pytest.raises(ValidationError):
        Feedback(helpful=True, extra="x")
