"""GET /metrics over real HTTP on loopback (bot/core/metrics.py): her messages counted by
channel and outcome, the answer-time histogram, sends to Telegram by result and the queues'
depth from the database; parsed as Prometheus parses it. Counts are per process, so each
test reads what its own messages added."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_telegram import _env
from tests.support.waiting import wait_for


def scrape(url: str, **headers) -> dict[tuple[str, tuple], float]:
    r = httpx.get(f"{url}/metrics", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def env(sqlite_url):
    yield from _env(sqlite_url)


def test_messages_answers_deliveries_and_queues_are_counted(env):
    before = scrape(env.url)
    env.rasa.replies = [{"text": "Ring 1888"}]
    assert env.post(env.tg.text_update(2001, "hvor kan jeg få hjælp?")).status_code == 200
    update = env.tg.text_update(2002, "my husband says he will kill me tonight")
    env.post(update)
    env.post(update)  # the platform delivers it again
    env.rasa.replies = [
        {"text": "A counsellor will write to you."},
        {"custom": {"directive": {"kind": "handoff", "topic": "violence", "priority": "high"}}},
    ]
    env.post(env.tg.text_update(2003, "I want to talk to a person"))
    wait_for(lambda: env.tg.chat(2001) and env.tg.chat(2003), what="the replies sent")

    def grown():
        now = scrape(env.url)
        return (
            now
            if value(now, "bot_deliveries_total", channel="telegram", result="sent")
            - value(before, "bot_deliveries_total", channel="telegram", result="sent")
            >= 3
            else None
        )

    after = wait_for(grown, what="the sends counted")
    added = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert added("bot_messages_total", channel="telegram", outcome="answered") == 2
    assert added("bot_messages_total", channel="telegram", outcome="danger") == 1
    assert added("bot_messages_total", channel="telegram", outcome="duplicate") == 1
    assert added("bot_answer_seconds_count", channel="telegram") == 4
    assert value(after, "bot_queue_depth", queue="cases_high") >= 1  # read from the database
    assert ("bot_queue_depth", (("queue", "outbound_queued"),)) in after


def test_metrics_need_the_token_when_one_is_set(sqlite_url):
    for env in _env(sqlite_url, metrics_token="scrape-me"):
        assert httpx.get(f"{env.url}/metrics", timeout=10).status_code == 403
        wrong = httpx.get(f"{env.url}/metrics", headers={"Authorization": "Bearer no"}, timeout=10)
        assert wrong.status_code == 403
        assert scrape(env.url, Authorization="Bearer scrape-me")
