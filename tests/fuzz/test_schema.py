"""Every public route, fuzzed from the gateway's own OpenAPI schema (schemathesis), over real
HTTP on one kept-alive connection, as the platforms send: no answer is a 5xx, and every
answer is one the schema documents (status, content type, body, headers).

The schema is taken from the app object (`create_app(...).openapi()`), not from a route, so
it does not matter whether /openapi.json is served. Each request gets what a real client
would have, so that it reaches the code behind the door rather than stopping at it:
Telegram's secret token, WhatsApp's signature over the exact bytes sent, the workspace
API's bearer token, and for the REST outbox her sender id with its outbox token. Positive
(schema-valid) webhooks are also made current and addressed to this gateway's number and a
private chat, so they reach the pipeline; the negative (schema-violating) ones are sent as
generated, and must be refused with 400, or answered 200 with nothing stored (a platform
must get 200 for what a bot ignores: another number, a change it did not subscribe to).

FUZZ_PROFILE=long (`make fuzz`) runs many more cases; see tests/fuzz/conftest.py.
"""

from __future__ import annotations

import copy
import json
import time

import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    negative_data_rejection,
    positive_data_acceptance,
)

from bot.settings import Settings
from connectors.rest import TOKEN_HEADER
from gateway.app import create_app
from tests.fuzz import world as fuzz_world
from tests.fuzz.conftest import PROFILE
from tests.support.fake_whatsapp import PHONE_NUMBER_ID

# The workspace API's errors, as docs/api.md lists them (bot/workspace/api.py does not declare
# them in the schema yet): {"error": "..."} with 401, 403, 404, 409; 422 for a body FastAPI
# refuses; and 400, which transfer answers for an unknown colleague or language although
# docs/api.md does not list it.
API_ERRORS = {
    str(code): {
        "description": meaning,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    for code, meaning in {
        400: "a colleague or language that does not exist (transfer)",
        401: "no token, unknown token, revoked token, inactive account",
        403: "the account's role may not do this",
        404: "no such case, or not shared with this account",
        409: "the case's state does not allow it",
        422: "validation error",
    }.items()
}

# schemathesis's phases: examples (from the schema), coverage (every boundary and every way to
# break each field, deterministic) and fuzzing (random, EXAMPLES a route in conftest.py)
_PHASES = {"bounded": {"phases": {"coverage": {"enabled": False}}}}
# a body over a route's limit is refused with 413 before anything reads it: as good a refusal
# of a too-long field as 400
_REFUSALS = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
_CHECKS = {"checks": {"negative_data_rejection": {"expected-statuses": _REFUSALS}}}


def _schema() -> dict:
    app = create_app(Settings(hash_key="schema-only", database_url="sqlite://"))
    schema = copy.deepcopy(app.openapi())
    for path, operations in schema["paths"].items():
        if path.startswith("/api/v1/"):
            for operation in operations.values():
                operation["responses"] = {**API_ERRORS, **operation["responses"]}
    return schema


SCHEMA = schemathesis.openapi.from_dict(
    _schema(), config=SchemathesisConfig.from_dict({**_PHASES.get(PROFILE, {}), **_CHECKS})
)
WEBHOOKS = {"/webhooks/telegram", "/webhooks/whatsapp"}
SESSION = requests.Session()  # one kept-alive connection: a 5xx once reset the next request


def _is_positive(case) -> bool:
    meta = case.meta
    return meta is None or meta.generation.mode.is_positive


def _fresh_telegram(body) -> None:
    """A schema-valid update as Telegram would send it now, from a private chat."""
    if not isinstance(body, dict):
        return
    for field in ("message", "edited_message"):
        message = body.get(field)
        if isinstance(message, dict):
            message["date"] = int(time.time())
            if isinstance(message.get("chat"), dict) and body.get("update_id", 0) % 2 == 0:
                message["chat"]["type"] = "private"


def _ours_whatsapp(body) -> None:
    """A schema-valid notification for this gateway's number, written now."""
    if not isinstance(body, dict):
        return
    for entry in body.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            change["field"] = "messages"
            value["metadata"] = {
                **(value.get("metadata") or {}),
                "phone_number_id": PHONE_NUMBER_ID,
            }
            for message in value.get("messages") or []:
                message["timestamp"] = str(int(time.time()))


def _raw(case) -> bytes:
    if isinstance(case.body, NotSet):
        return b""
    if isinstance(case.body, bytes):
        return case.body
    return json.dumps(case.body).encode()


def _send(case, world) -> requests.Response:
    path, positive = case.operation.path, _is_positive(case)
    headers: dict[str, str] = {}
    extra: dict = {}
    if path.startswith("/api/v1/"):
        headers["Authorization"] = f"Bearer {world.api_token}"
        number = str((case.path_parameters or {}).get("case_id", ""))
        if positive and number.isdigit() and int(number) % 3:  # two in three: a real case
            case.path_parameters["case_id"] = world.case_ids[int(number) % 3]
    elif path == "/webhooks/telegram":
        headers["x-telegram-bot-api-secret-token"] = fuzz_world.TELEGRAM_SECRET
        if positive:
            _fresh_telegram(case.body)
    elif path == "/webhooks/whatsapp" and case.method == "POST":
        if positive:
            _ours_whatsapp(case.body)
        raw = _raw(case)
        headers["x-hub-signature-256"] = fuzz_world.sign(raw)
        if raw:
            extra["data"] = raw
    elif path == "/webhooks/rest/outbox" and positive:
        sender, token = world.outbox_pair()
        case.query = {**(case.query or {}), "sender": sender}
        headers[TOKEN_HEADER] = token
    return case.call(base_url=world.url, session=SESSION, headers=headers, **extra)


@SCHEMA.parametrize()
def test_no_route_answers_5xx_and_every_answer_is_documented(case, world):
    path = case.operation.path
    before = world.messages_in() if path in WEBHOOKS else None
    response = _send(case, world)
    world.count(case.operation.label, response.status_code)
    excluded = []
    if path in WEBHOOKS:
        excluded.append(negative_data_rejection)  # 200 for what is ignored: checked below
    if path == "/webhooks/telegram":
        # the schema names the fields this connector checks; python-telegram-bot also parses
        # every other one it knows, and refuses (400) e.g. a "document" that is a list, which
        # the schema leaves open. A 400 is still never a 5xx and never stores anything.
        excluded.append(positive_data_acceptance)
    if path.startswith("/api/v1/"):
        excluded.append(positive_data_acceptance)  # a valid case id may be no case: 404
    if path == "/webhooks/whatsapp":
        # GET and POST are two routes: Starlette's 405 names only the first one's method
        excluded.append(allow_header_conformance)
    case.validate_response(response, excluded_checks=excluded)
    if before is not None and not _is_positive(case) and response.status_code == 200:
        assert world.messages_in() == before, "a schema-violating webhook stored a message"
