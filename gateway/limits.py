"""A size limit on every request body, before any route reads it: 413 beyond.

Each channel names its own limit (connectors/*.py MAX_BODY_BYTES); the workspace's forms and
the JSON API get `DEFAULT_BYTES`. A declared Content-Length over the limit is answered at once;
a body sent without one (chunked) is counted as it arrives and stopped at the limit, so no
route ever holds more than its limit in memory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_BYTES = 256 * 1024


class _TooLarge(Exception):
    """Raised into the route that reads past its limit (after the 413 went out)."""


class BodyLimit:
    """ASGI middleware. `limits`: path prefix -> bytes, the longest matching prefix wins."""

    def __init__(self, app: ASGIApp, limits: Mapping[str, int], default: int = DEFAULT_BYTES):
        self.app, self.default = app, default
        self.limits = sorted(limits.items(), key=lambda item: len(item[0]), reverse=True)

    def limit(self, path: str) -> int:
        return next((n for prefix, n in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, limit)
            return
        seen = 0
        started = refused = False

        async def counted() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not started:
                    # answered here: a route may turn any error reading its body into its
                    # own answer (FastAPI: 400), which `watched` then drops
                    await _refuse(send, limit)
                    refused = True
                if seen > limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not refused:
                raise


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"error": f"request body over {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
