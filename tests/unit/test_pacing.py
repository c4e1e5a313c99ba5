"""Pacing keeps the bot inside each platform's published send limits, so her replies are not
refused (Telegram: about 30 a second overall, about one a second per chat with short bursts),
and retries back off without waiting more than five minutes. A fake clock makes every delay
exact."""

from __future__ import annotations

import asyncio

import pytest

from bot.core import pacing
from bot.core.pacing import RateLimit, backoff_s


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def telegram_like(clock: Clock) -> RateLimit:
    return RateLimit(per_second=30, per_chat_per_second=1, chat_burst=3, clock=clock)


def test_a_short_burst_to_one_chat_goes_out_at_once(clock):
    rate = telegram_like(clock)
    assert [rate.delay("her") for _ in range(3)] == [0.0, 0.0, 0.0]


def test_after_the_burst_one_chat_waits_for_its_next_token(clock):
    rate = telegram_like(clock)
    for _ in range(3):
        rate.delay("her")
    assert rate.delay("her") == pytest.approx(1.0)
    clock.advance(0.25)
    assert rate.delay("her") == pytest.approx(0.75)
    clock.advance(0.75)
    assert rate.delay("her") == 0.0
    assert rate.delay("her") == pytest.approx(1.0), "the token just refilled was taken"


def test_a_delay_takes_nothing_so_asking_again_gives_the_same_wait(clock):
    rate = telegram_like(clock)
    for _ in range(3):
        rate.delay("her")
    assert rate.delay("her") == rate.delay("her") == pytest.approx(1.0)
    clock.advance(1.0)
    assert rate.delay("her") == 0.0


def test_one_chat_at_its_limit_does_not_hold_back_another(clock):
    rate = telegram_like(clock)
    for _ in range(3):
        rate.delay("her")
    assert rate.delay("her") > 0
    assert rate.delay("someone else") == 0.0


def test_an_idle_chat_saves_up_no_more_than_its_burst(clock):
    rate = telegram_like(clock)
    for _ in range(3):
        rate.delay("her")
    clock.advance(3600)
    assert [rate.delay("her") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rate.delay("her") == pytest.approx(1.0)


def test_the_global_bucket_limits_sends_across_all_chats(clock):
    rate = RateLimit(per_second=4, per_chat_per_second=10, chat_burst=10, clock=clock)
    assert [rate.delay(f"chat-{i}") for i in range(4)] == [0.0] * 4
    assert rate.delay("chat-new") == pytest.approx(0.25), "one token at 4 a second"
    clock.advance(0.1)
    assert rate.delay("chat-new") == pytest.approx(0.15)
    clock.advance(0.15)
    assert rate.delay("chat-new") == 0.0


def test_the_global_burst_is_one_second_of_sends(clock):
    rate = RateLimit(per_second=30, per_chat_per_second=100, chat_burst=100, clock=clock)
    sent = sum(rate.delay(f"chat-{i}") == 0.0 for i in range(40))
    assert sent == 30
    clock.advance(3600)  # idle for an hour: still no more than one second's worth at once
    assert sum(rate.delay(f"later-{i}") == 0.0 for i in range(40)) == 30


def test_a_refused_global_send_takes_no_token_from_her_chat(clock):
    # her chat refills too slowly to matter here: only the burst of two counts
    rate = RateLimit(per_second=1, per_chat_per_second=0.001, chat_burst=2, clock=clock)
    assert rate.delay("other") == 0.0  # uses the only global token
    assert rate.delay("her") == pytest.approx(1.0)
    clock.advance(1.0)
    assert rate.delay("her") == 0.0
    clock.advance(1.0)
    assert rate.delay("her") == 0.0, "her burst of two was still whole"


def test_a_rate_below_one_a_second_still_allows_one_send(clock):
    rate = RateLimit(per_second=0.5, per_chat_per_second=0.5, chat_burst=1, clock=clock)
    assert rate.delay("her") == 0.0
    assert rate.delay("her") == pytest.approx(2.0)


async def test_wait_sleeps_exactly_until_the_next_token(clock, monkeypatch):
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    monkeypatch.setattr(pacing.asyncio, "sleep", fake_sleep)
    rate = RateLimit(per_second=30, per_chat_per_second=2, chat_burst=1, clock=clock)
    await rate.wait("her")
    assert slept == []
    await rate.wait("her")
    await rate.wait("her")
    assert slept == pytest.approx([0.5, 0.5])


async def test_concurrent_waits_for_one_chat_go_out_one_token_at_a_time(clock, monkeypatch):
    real_sleep = asyncio.sleep
    times: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        clock.advance(seconds)
        await real_sleep(0)

    monkeypatch.setattr(pacing.asyncio, "sleep", fake_sleep)
    rate = RateLimit(per_second=30, per_chat_per_second=1, chat_burst=2, clock=clock)
    start = clock.now

    async def send() -> None:
        await rate.wait("her")
        times.append(clock.now - start)

    await asyncio.gather(*(send() for _ in range(5)))
    assert len(times) == 5
    assert sorted(times)[:2] == [0.0, 0.0], "the burst"
    # the rest no faster than one a second
    later = sorted(times)[2:]
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip([0.0, *later], later, strict=False))


@pytest.mark.parametrize("attempts, seconds", [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (8, 256.0)])
def test_backoff_doubles_from_the_base(attempts, seconds):
    assert backoff_s(attempts) == seconds


def test_backoff_doubles_from_a_configured_base():
    assert [backoff_s(n, base=0.5) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]


@pytest.mark.parametrize("attempts", [9, 10, 20, 100, 1000])
def test_backoff_never_waits_more_than_five_minutes(attempts):
    assert backoff_s(attempts) == 300.0


def test_backoff_never_shrinks_as_attempts_grow():
    waits = [backoff_s(n) for n in range(1, 30)]
    assert waits == sorted(waits)
    assert max(waits) == 300.0
