"""Talks to the Rasa server's REST channel and status API on loopback."""

from __future__ import annotations

import asyncio
import time

import httpx


class RasaUnavailable(Exception):
    """Rasa did not answer, or answered with an error."""


class RasaClient:
    def __init__(self, base_url: str, timeout_s: float = 15.0):
        self.base_url = base_url.rstrip("/")
        self.http = httpx.AsyncClient(
            timeout=timeout_s, limits=httpx.Limits(max_keepalive_connections=20)
        )

    async def send(self, sender: str, text: str, metadata: dict) -> list[dict]:
        try:
            r = await self.http.post(
                f"{self.base_url}/webhooks/rest/webhook",
                json={"sender": sender, "message": text, "metadata": metadata},
            )
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc)) from exc
        if r.status_code != 200:
            raise RasaUnavailable(f"status {r.status_code}")
        # [] is an answer too: Rasa had nothing to say. A failed action also gives [] or a
        # partial answer, which the pipeline tells apart by asking the action server itself.
        replies = r.json()
        if not isinstance(replies, list):
            raise RasaUnavailable("not a list of messages")
        return replies

    async def replace_events(self, sender: str) -> None:
        """Erases Rasa's copy of a conversation (its tracker) by replacing it with nothing."""
        r = await self.http.put(f"{self.base_url}/conversations/{sender}/tracker/events", json=[])
        r.raise_for_status()

    async def status(self) -> dict:
        try:
            r = await self.http.get(f"{self.base_url}/status", timeout=3)
            if r.status_code != 200:
                return {"ok": False, "detail": f"status {r.status_code}"}
            model = r.json().get("model_file")
            return {"ok": bool(model), "detail": model or "no model loaded"}
        except httpx.HTTPError as exc:
            return {"ok": False, "detail": f"unreachable: {exc.__class__.__name__}"}

    async def close(self) -> None:
        await self.http.aclose()


class ActionServerProbe:
    """Whether the action server answers. Rasa answers 200 with whatever it had when a custom
    action fails, so the gateway asks directly, after Rasa's answer, with `since` the time
    that answer came: an action server that died while Rasa worked is seen (a cached
    "alive" from before let Rasa's half answer through, and her question was lost). Answers
    that wait while a check runs share the next one.

    A stopped action server refuses the connection at once. A busy one answers late: under
    load (bench/load.py, 50 women on two cores) a 1-second limit called it down a dozen
    times a minute, and each time every answer waiting on that check became "a technical
    problem". So only a refusal, an error status or no answer within PROBE_TIMEOUT_S counts.
    """

    PROBE_TIMEOUT_S = 5.0

    def __init__(self, http: httpx.AsyncClient, base_url: str):
        self.http, self.url = http, base_url.rstrip("/") + "/health"
        self._checked_at, self._alive = float("-inf"), False
        self._lock = asyncio.Lock()

    async def alive(self, since: float) -> bool:
        async with self._lock:  # one check at a time; those waiting reuse its answer
            if self._checked_at < since:  # no check began after `since`: ask now
                started = time.monotonic()
                try:
                    r = await self.http.get(self.url, timeout=self.PROBE_TIMEOUT_S)
                    self._alive = r.status_code == 200
                except httpx.HTTPError:
                    self._alive = False
                self._checked_at = started
            return self._alive
