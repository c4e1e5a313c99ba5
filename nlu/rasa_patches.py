"""A speed fix for Rasa 3.6, loaded into the Rasa server by nlu/components.py.

Rasa 3.6 checks every action server response with `jsonschema.validate(result, schema)`,
which validates the schema itself and builds a new validator on every call; profiling showed
about a third of the Rasa server's time per knowledge answer there (bench/README.md). This
replaces `jsonschema.validate` with the same function over a validator cached per schema: the
same validator class, the same checks, the same errors. Rasa Open Source is no longer
maintained, so the fix lives here rather than upstream.
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


def apply() -> None:
    jsonschema.validate = validate
