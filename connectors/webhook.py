"""What every channel's webhook does with a request body before its platform's own rules.

- Only JSON is accepted (415 otherwise): a web page can POST text/plain or a form to any
  address without asking, but not application/json, so no page can talk to a channel from
  someone's browser.
- `loads` turns what json.loads cannot end well into ValueError (too deeply nested), and
  replaces lone surrogates ("\\ud800" is valid JSON but no text a database or a platform can
  store or send) and NUL ("\\u0000": PostgreSQL refuses it in a text column, so a message id
  holding one failed on every redelivery) with U+FFFD, so such a message is stored and answered
  like any other.
- `json_body` and `error_responses` describe a webhook in the OpenAPI schema (the routes read
  their raw body, so FastAPI cannot): tests/fuzz generates requests from that description.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

_SURROGATE = re.compile("[\ud800-\udfff\x00]")
_ESCAPED_SURROGATE = re.compile(rb"\\u(?:[dD][89a-fA-F]|0000)")


def is_json(request: Request) -> bool:
    """application/json, or a structured syntax suffix such as application/ld+json."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def not_json() -> JSONResponse:
    return JSONResponse(
        {"error": "the body must be JSON (Content-Type: application/json)"}, status_code=415
    )


def clean(text: str) -> str:
    """The text with every lone surrogate and NUL replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def loads(body: bytes) -> Any:
    """json.loads for a webhook body; raises ValueError for anything that is not JSON."""
    try:
        data = json.loads(body)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc
    if _ESCAPED_SURROGATE.search(body):
        if isinstance(data, str):
            return clean(data)
        if isinstance(data, dict | list):
            _clean_tree(data)
    return data


def _clean_tree(data: Any) -> None:
    """Replaces lone surrogates in every string value, in place (no recursion: the depth is
    whatever the sender chose)."""
    stack = [data]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            if isinstance(value, str):
                node[key] = clean(value)
            elif isinstance(value, dict | list):
                stack.append(value)


ERRORS = {
    400: "malformed: a field this route reads is missing or of the wrong type; nothing was stored",
    401: "no valid secret (token, signature)",
    403: "the verify token is wrong",
    404: "this channel is not enabled",
    413: "body over the route's limit",
    415: "the body is not JSON",
    503: "the database is unavailable: nothing was stored, the platform delivers it again",
}
_ERROR_BODY = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors a route answers, each {"error": "<a sentence>"}."""
    return {
        code: {
            "description": ERRORS[code],
            "content": {"application/json": {"schema": _ERROR_BODY}},
        }
        for code in codes
    }


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI `openapi_extra` for a route that reads a JSON body with this schema itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
