"""What every channel's webhook does with a request body before its platform's own rules.

- Only JSON is accepted (415 otherwise): a web page can POST text/plain or a form to any
  address without asking, but not application/json, so no page can talk to a channel from
  someone's browser.
- `loads` turns what json.loads cannot end well into ValueError (too deeply nested), and
  replaces lone surrogates ("\\ud800" is valid JSON but no text a database or a platform can
  store or send) with U+FFFD, so such a message is stored and answered like any other.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


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
    """The text with every lone surrogate replaced by U+FFFD."""
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
