"""The gateway's check that the action server answers (bot/core/rasa_client.py). Rasa answers
200 with half an answer when its action server is gone, so a stale "alive" would let that
half answer through and her question be lost: the check after Rasa's answer must be fresh."""

from __future__ import annotations

import asyncio
import time

import httpx

from bot.core.rasa_client import ActionServerProbe


class ActionServer:
    """The action server's /health, switchable, counting the checks it gets."""

    def __init__(self) -> None:
        self.up, self.checks, self.delay_s = True, 0, 0.01

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/health"
        self.checks += 1
        await asyncio.sleep(self.delay_s)  # a check takes a moment: others arrive meanwhile
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"status": "ok"})


def probe(server: ActionServer) -> ActionServerProbe:
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    return ActionServerProbe(http, "http://actions:5055")


async def test_a_death_right_after_a_check_is_seen_by_the_next_answer():
    server = ActionServer()
    actions = probe(server)
    assert await actions.alive(since=time.monotonic())
    server.up = False  # killed while Rasa works on her message, well within the ttl
    assert not await actions.alive(since=time.monotonic()), "a stale 'alive' let it through"


async def test_answers_waiting_together_share_one_check():
    server = ActionServer()
    actions = probe(server)
    answered_at = time.monotonic()
    results = await asyncio.gather(*(actions.alive(since=answered_at) for _ in range(20)))
    assert results == [True] * 20
    assert server.checks == 1, "twenty answers, one check made after all of them"


async def test_a_busy_action_server_is_not_called_down():
    """Under load its /health answers in seconds; her answer must not become "a technical
    problem" for that."""
    server = ActionServer()
    server.delay_s = 1.5
    assert await probe(server).alive(since=time.monotonic())
