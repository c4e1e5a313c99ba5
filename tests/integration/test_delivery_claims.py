"""Two gateways sharing one database, as an organisation runs them for uptime: a gateway that
starts never takes over the other's send in flight (she would get the reply twice), and a send
left `sending` by a gateway that died is delivered once by whichever gateway is running, without
waiting for a restart (bot/core/delivery.py, DELIVERY_CLAIM_TIMEOUT_S)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.orm import sessionmaker

from bot.storage.models import Message, utcnow
from common.clock import aware
from gateway.app import create_app
from tests.integration.test_telegram import Env, _settings
from tests.support.fake_rasa import FakeActions, FakeRasa
from tests.support.fake_telegram import FakeTelegram
from tests.support.servers import serve
from tests.support.waiting import wait_for


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_gateway_starting_leaves_another_gateways_send_in_flight_alone(request, database):
    db_url = request.getfixturevalue(f"{database}_url")
    rasa, actions, tg = FakeRasa(), FakeActions(), FakeTelegram()
    with serve(rasa.app) as rasa_url, serve(actions.app) as action_url, serve(tg.app) as tg_url:
        settings = _settings(rasa_url, action_url, db_url, tg_url)
        with serve(create_app(settings)) as url_a:
            a = Env(url_a, None, rasa, tg, db_url)
            tg.sends_open.clear()  # Telegram is slow to answer gateway A's send
            assert a.post(tg.text_update(1200, "hvor lærer jeg dansk")).status_code == 200
            wait_for(lambda: tg.sends_waiting == 1, what="gateway A's send in flight")
            assert [m.status for m in a.rows(Message.direction == "out")] == ["sending"]

            with serve(create_app(settings)):  # gateway B starts on the same database
                time.sleep(1.5)  # B has recovered and made its first passes: a takeover shows
                assert tg.sends_waiting == 1, "gateway B sent the reply gateway A is sending"
                assert [m.status for m in a.rows(Message.direction == "out")] == ["sending"]
                tg.sends_open.set()
                wait_for(lambda: tg.chat(1200), what="A's send to arrive")
                time.sleep(0.5)  # a second copy would arrive now
            assert [m["text"] for m in tg.chat(1200)] == ["echo: hvor lærer jeg dansk"]
            assert [m.status for m in a.rows(Message.direction == "out")] == ["sent"]


def test_a_send_left_by_a_gateway_that_died_is_delivered_once_by_the_running_one(sqlite_url):
    with _a_reply_left_sending_by_a_dead_gateway(sqlite_url, 1201, "hvor lærer jeg dansk") as env:
        tg = env.tg
        time.sleep(1.0)  # the claim is fresh: the running gateway leaves it alone
        assert tg.chat(1201) == []
        assert [m.status for m in env.rows(Message.direction == "out")] == ["sending"]
        wait_for(lambda: tg.chat(1201), timeout=10, what="the stale claim to be taken over")
        time.sleep(0.5)
        assert [m["text"] for m in tg.chat(1201)] == ["echo: hvor lærer jeg dansk"]
        [reply] = env.rows(Message.direction == "out")
        assert (reply.status, reply.attempts) == ("sent", 2)
        assert reply.claimed_at is not None
        assert aware(reply.claimed_at) > utcnow() - timedelta(seconds=10), "its own claim"


def test_her_later_reply_waits_while_an_earlier_one_is_in_another_gateways_hands(sqlite_url):
    """A gateway killed mid-send leaves her first reply `sending`. The running one must not
    send her next reply before it: she would read the answer before the greeting, or the
    reply to her second question before the first."""
    with _a_reply_left_sending_by_a_dead_gateway(sqlite_url, 1202, "første") as env:
        tg = env.tg
        env.post(tg.text_update(1202, "anden"))
        time.sleep(1.0)  # the first reply's claim is fresh: nothing may overtake it
        assert tg.chat(1202) == [], "her second reply overtook the first"
        statuses = [m.status for m in env.rows(Message.direction == "out")]
        assert statuses == ["sending", "queued"]

        wait_for(lambda: len(tg.chat(1202)) == 2, timeout=15, what="both replies")
        time.sleep(0.5)
        assert [m["text"] for m in tg.chat(1202)] == ["echo: første", "echo: anden"]
        assert [m.status for m in env.rows(Message.direction == "out")] == ["sent", "sent"]


def _claim_queued_as_a_gateway_that_dies(db_url: str) -> int:
    """Another gateway claims the queued replies for their retry now and dies before
    finishing: they stay `sending` under a fresh claim."""
    engine = create_engine(db_url)
    with sessionmaker(engine)() as db:
        claimed = db.execute(
            update(Message)
            .where(Message.direction == "out", Message.status == "queued")
            .values(status="sending", claimed_at=utcnow(), next_attempt_at=None)
        ).rowcount
        db.commit()
    engine.dispose()
    return claimed


@contextmanager
def _a_reply_left_sending_by_a_dead_gateway(db_url: str, chat_id: int, text: str):
    """A running gateway (claims time out after 2 s) whose first send of her reply failed, the
    retry a minute away; then another gateway claimed that reply and died: it stays `sending`
    under a fresh claim. Yields the running gateway's Env."""
    rasa, actions, tg = FakeRasa(), FakeActions(), FakeTelegram()
    with serve(rasa.app) as rasa_url, serve(actions.app) as action_url, serve(tg.app) as tg_url:
        settings = _settings(
            rasa_url,
            action_url,
            db_url,
            tg_url,
            delivery_backoff_s=60,  # after one failure the reply waits a minute for its retry
            delivery_claim_timeout_s=2,
        )
        with serve(create_app(settings)) as url:
            env = Env(url, None, rasa, tg, db_url)
            tg.fail_next = [(502, "Bad Gateway", None)]
            env.post(tg.text_update(chat_id, text))
            wait_for(
                lambda: [m.attempts for m in env.rows(Message.direction == "out")] == [1],
                what="the first send to fail and the reply to wait for its retry",
            )
            assert _claim_queued_as_a_gateway_that_dies(db_url) == 1
            yield env
