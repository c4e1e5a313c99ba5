"""Replay windows on the Telegram and WhatsApp webhooks, over real HTTP on loopback, with the
payloads the fakes build in the platforms' wire formats.

Anyone who once saw a signed body (a log, a proxy) could post it again. Platform ids already
make a redelivery of a message we stored a no-op; the windows refuse what no platform would
still deliver: a Telegram message older than TELEGRAM_REPLAY_WINDOW_S (26 h: Telegram keeps an
undelivered update 24 h) and a WhatsApp message older than WHATSAPP_REPLAY_WINDOW_S (7 days:
Meta retries that long). Refused means 200 (the platform must not retry), nothing stored, no
reply, and a log line without any id. A late delivery report, whatever its timestamp, never
moves a message back, and one written before the report that set the status (its own
timestamp is older) changes nothing, not even to "failed".
"""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from bot.settings import Settings, get_settings
from bot.storage.models import Message
from gateway.app import create_app
from tests.support.delivery import wait_until_delivered
from tests.support.fake_rasa import FakeActions, FakeRasa
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_whatsapp import PHONE_NUMBER_ID, FakeWhatsApp
from tests.support.servers import serve
from tests.support.waiting import wait_for

SECRET = "replay-secret-token"
HOUR = 3600
DAY = 24 * HOUR
WA = "4520555111"


class Env:
    def __init__(self, url, rasa, tg, wa, db_url):
        self.url, self.rasa, self.tg, self.wa, self.db_url = url, rasa, tg, wa, db_url

    def telegram(self, update: dict) -> httpx.Response:
        headers = {"x-telegram-bot-api-secret-token": SECRET}
        return httpx.post(f"{self.url}/webhooks/telegram", json=update, headers=headers)

    def whatsapp(self, notification: dict) -> httpx.Response:
        body, headers = self.wa.signed(notification)
        return httpx.post(f"{self.url}/webhooks/whatsapp", content=body, headers=headers)

    def rows(self, *where) -> list[Message]:
        engine = create_engine(self.db_url)
        with sessionmaker(engine)() as db:
            rows = db.scalars(select(Message).where(*where).order_by(Message.id)).all()
        engine.dispose()
        return list(rows)


@pytest.fixture
def env(sqlite_url):
    rasa, actions, tg, wa = FakeRasa(), FakeActions(), FakeTelegram(), FakeWhatsApp()
    with (
        serve(rasa.app) as rasa_url,
        serve(actions.app) as action_url,
        serve(tg.app) as tg_url,
        serve(wa.app) as wa_url,
    ):
        settings = Settings(
            hash_key="test-key",
            database_url=sqlite_url,
            rasa_url=rasa_url,
            action_server_url=action_url,
            rasa_timeout_s=5,
            telegram_mode="webhook",
            telegram_token=tg.token,
            telegram_secret=SECRET,
            telegram_api_url=tg_url,
            whatsapp_token=wa.token,
            whatsapp_phone_number_id=PHONE_NUMBER_ID,
            whatsapp_app_secret=wa.app_secret,
            whatsapp_api_url=wa_url,
            delivery_backoff_s=0.2,
        )
        with serve(create_app(settings)) as url:
            yield Env(url, rasa, tg, wa, sqlite_url)


def _aged(update: dict, seconds: int, field: str = "message") -> dict:
    update[field]["date"] = int(time.time()) - seconds
    return update


def _aged_whatsapp(notification: dict, seconds: int) -> dict:
    message = notification["entry"][0]["changes"][0]["value"]["messages"][0]
    message["timestamp"] = str(int(time.time()) - seconds)
    return notification


def _refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "replay window" in r.getMessage()]


def test_a_telegram_message_older_than_26_hours_is_refused_without_a_trace(env, caplog):
    caplog.set_level(logging.INFO, logger="connectors")
    update = _aged(env.tg.text_update(4001, "he is going to kill me"), 27 * HOUR)
    r = env.telegram(update)
    assert r.status_code == 200, "Telegram must not deliver it again"
    assert env.rows() == [] and env.rasa.received == []
    time.sleep(0.3)  # a reply, if one were sent, would be on its way now
    assert env.tg.chat(4001) == []
    [line] = _refusals(caplog)
    assert "4001" not in line and str(update["update_id"]) not in line, "no ids in the log"


def test_a_telegram_message_from_25_hours_ago_is_still_answered(env, caplog):
    caplog.set_level(logging.INFO, logger="connectors")
    update = _aged(env.tg.text_update(4002, "hvor lærer jeg dansk"), 25 * HOUR)
    assert env.telegram(update).status_code == 200
    wait_for(lambda: env.tg.chat(4002), what="the reply to a late but real delivery")
    assert _refusals(caplog) == []


def test_an_old_telegram_edit_is_refused_as_a_replay(env, caplog):
    caplog.set_level(logging.INFO, logger="connectors")
    update = env.tg.text_update(4003, "hello")
    update["edited_message"] = update.pop("message")
    update["edited_message"]["edit_date"] = int(time.time()) - 27 * HOUR
    assert env.telegram(_aged(update, 27 * HOUR, "edited_message")).status_code == 200
    assert len(_refusals(caplog)) == 1
    assert env.rows() == []


def test_a_whatsapp_message_older_than_7_days_is_refused_without_a_trace(env, caplog):
    caplog.set_level(logging.INFO, logger="connectors")
    notification = _aged_whatsapp(env.wa.text(WA, "he is going to kill me"), 8 * DAY)
    r = env.whatsapp(notification)
    assert r.status_code == 200, "Meta must not deliver it again"
    assert env.rows() == [] and env.rasa.received == []
    time.sleep(0.3)
    assert env.wa.chat(WA) == []
    [line] = _refusals(caplog)
    message_id = notification["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert WA not in line and message_id not in line, "no ids in the log"


def test_a_whatsapp_message_from_6_days_ago_is_still_answered(env):
    assert env.whatsapp(_aged_whatsapp(env.wa.text(WA, "hello there"), 6 * DAY)).status_code == 200
    wait_for(lambda: env.wa.chat(WA), what="the reply to a retried notification")


def test_only_the_old_message_of_a_notification_is_refused(env):
    notification = env.wa.text(WA, "an old one")
    fresh = env.wa.text(WA, "a new one")["entry"][0]["changes"][0]["value"]["messages"][0]
    messages = notification["entry"][0]["changes"][0]["value"]["messages"]
    messages[0]["timestamp"] = str(int(time.time()) - 8 * DAY)
    messages.append(fresh)
    assert env.whatsapp(notification).status_code == 200
    assert [m.text for m in env.rows(Message.direction == "in")] == ["a new one"]


@pytest.mark.parametrize("stamp", ["yesterday", "", "-5", 1700000000])
def test_a_whatsapp_timestamp_that_is_not_unix_seconds_is_refused_with_400(env, stamp):
    notification = env.wa.text(WA, "hello")
    notification["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = stamp
    assert env.whatsapp(notification).status_code == 400
    assert env.rows() == []


def _sent_wamid(env) -> str:
    assert env.whatsapp(env.wa.text(WA, "hello")).status_code == 200
    wait_until_delivered(env.db_url)
    return env.wa.chat(WA)[0]["id"]


def _status(env, wamid: str, status: str, age_s: int, errors=None) -> None:
    notification = env.wa.status(wamid, WA, status, errors)
    notification["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"] = str(
        int(time.time()) - age_s
    )
    assert env.whatsapp(notification).status_code == 200


def test_a_report_older_than_the_newest_recorded_one_does_not_overwrite_it(env):
    wamid = _sent_wamid(env)
    _status(env, wamid, "read", 0)
    _status(env, wamid, "delivered", 60)  # written before "read", arrives after it
    _status(env, wamid, "sent", 120)
    assert [m.status for m in env.rows(Message.external_id == wamid)] == ["read"]


def test_a_failed_report_written_before_delivered_does_not_overwrite_it(env):
    wamid = _sent_wamid(env)
    _status(env, wamid, "delivered", 0)
    _status(env, wamid, "failed", 60, [{"code": 131026, "title": "Message undeliverable"}])
    assert [m.status for m in env.rows(Message.external_id == wamid)] == ["delivered"]


def test_a_report_without_a_timestamp_follows_the_order_rules_alone(env):
    wamid = _sent_wamid(env)
    _status(env, wamid, "delivered", 0)
    notification = env.wa.status(wamid, WA, "failed", [{"code": 131026, "title": "Undeliverable"}])
    del notification["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"]
    assert env.whatsapp(notification).status_code == 200
    assert [m.status for m in env.rows(Message.external_id == wamid)] == ["failed"]


@pytest.mark.parametrize("stamp", ["yesterday", "-5", 1700000000, "999999999999"])
def test_a_report_whose_timestamp_is_not_unix_seconds_is_refused_with_400(env, stamp):
    wamid = _sent_wamid(env)
    notification = env.wa.status(wamid, WA, "read")
    notification["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"] = stamp
    assert env.whatsapp(notification).status_code == 400
    assert [m.status for m in env.rows(Message.external_id == wamid)] == ["sent"]


def test_the_windows_are_set_from_the_environment(monkeypatch):
    monkeypatch.delenv("TELEGRAM_REPLAY_WINDOW_S", raising=False)
    monkeypatch.delenv("WHATSAPP_REPLAY_WINDOW_S", raising=False)
    get_settings.cache_clear()
    assert get_settings().telegram_replay_window_s == 26 * HOUR
    assert get_settings().whatsapp_replay_window_s == 7 * DAY
    monkeypatch.setenv("TELEGRAM_REPLAY_WINDOW_S", "3600")
    monkeypatch.setenv("WHATSAPP_REPLAY_WINDOW_S", "86400")
    get_settings.cache_clear()
    try:
        assert get_settings().telegram_replay_window_s == 3600
        assert get_settings().whatsapp_replay_window_s == 86400
    finally:
        get_settings.cache_clear()
