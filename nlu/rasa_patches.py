"""Two fixes for Rasa 3.6, loaded into the Rasa server by nlu/components.py. Rasa Open Source
is no longer maintained, so they live here rather than upstream.

Speed: Rasa 3.6 checks every action server response with `jsonschema.validate(result,
schema)`, which validates the schema itself and builds a new validator on every call;
profiling showed about a third of the Rasa server's time per knowledge answer there
(bench/README.md). This replaces `jsonschema.validate` with the same function over a validator
cached per schema: the same validator class, the same checks, the same errors.

Privacy: Rasa's structured log writes her words at ERROR level when a message times out or
fails (`rest.message.received.timeout`, text=...), and at DEBUG everywhere. Her phone may be
watched, and a log is read by whoever runs the server. Every log entry's fields that Rasa
itself lists as user content (rasa/utils/log_utils.py, `_anonymizer`) are replaced before the
entry is written. (Rasa's own anonymisation hook is not used: registering it also makes Rasa
reread and diff the tracker on every message, for an event broker this project does not run.)
"""

from __future__ import annotations

import json
from functools import lru_cache

import jsonschema
from jsonschema.exceptions import best_match

_original_validate = jsonschema.validate


@lru_cache(maxsize=32)
def _validator(schema_json: str):
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate(instance, schema, cls=None, *args, **kwargs):
    if cls is not None or args or kwargs:
        return _original_validate(instance, schema, cls, *args, **kwargs)
    error = best_match(_validator(json.dumps(schema, sort_keys=True)).iter_errors(instance))
    if error is not None:
        raise error


# the keys Rasa 3.6's own anonymiser treats as user content (rasa/utils/log_utils.py)
USER_CONTENT = frozenset(
    {
        "text",
        "response_text",
        "user_text",
        "slot_values",
        "parse_data_text",
        "parse_data_entities",
        "prediction_events",
        "tracker_latest_message",
        "prefilled_slots",
        "message",
        "response",
        "slot_candidates",
        "rasa_event",
        "rasa_events",
        "tracker_states",
        "current_states",
        "old_states",
        "successes",
        "current_entity",
        "next_entity",
        "states",
        "entity",
        "token_text",
        "user_message",
        "json_message",
    }
)
REDACTED = "(not logged)"


def redact(_logger, _method: str, event_dict: dict) -> dict:
    """A structlog processor: her words out of the entry, the entry itself kept."""
    for key in USER_CONTENT.intersection(event_dict):
        event_dict[key] = REDACTED
    return event_dict


def apply() -> None:
    jsonschema.validate = validate
    import structlog

    processors = structlog.get_config()["processors"]
    if redact not in processors:
        structlog.configure(processors=[redact, *processors])
