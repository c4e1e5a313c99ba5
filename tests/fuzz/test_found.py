"""What fuzzing found, each with the exact payload, through the real gateway: fixed ones as
plain regression tests, open ones (outside connectors/ and gateway/) as strict xfails that
turn red once fixed, so the marker is removed with the fix."""

from __future__ import annotations

import hashlib
import html
import json
import time

import pytest

from common.vocab import LANGUAGES
from tests.fuzz.conftest import PROFILE
from tests.support.delivery import wait_until_delivered
from tests.support.replies import emergency_message

EMERGENCY = {emergency_message(lang) for lang in LANGUAGES}


def _emergency_first(replies: list[str]) -> bool:
    return bool(replies) and html.unescape(replies[0]) in EMERGENCY


def test_words_after_a_telegram_command_are_screened_and_kept(world):
    """Found: "/human he is going to kill me" reached the pipeline as "/request_human" alone:
    no emergency reply, and her words were never stored."""
    update = world.tg.text_update(7001, "/human he is going to kill me")
    assert world.telegram(update).status_code == 200
    wait_until_delivered(world.engine)
    chat = [m["text"] for m in world.tg.chat(7001)]
    assert _emergency_first(chat), chat
    assert [m.text for m in world.inbound("telegram", "7001")] == [
        "he is going to kill me",
        "/request_human",
    ]
    assert world.rasa.received[-1]["message"] == "/request_human", "the command still counts"
    assert world.telegram(update).status_code == 200, "a redelivery"
    assert len(world.inbound("telegram", "7001")) == 2, "is processed once"


def test_a_start_deep_link_parameter_is_not_taken_for_her_words(world):
    assert world.telegram(world.tg.text_update(7002, "/start ngo-42")).status_code == 200
    assert [m.text for m in world.inbound("telegram", "7002")] == ["/greet"]


def test_a_telegram_id_written_as_a_whole_float_is_answered_in_that_chat(world):
    """JSON has one kind of number: 7003.0 is the schema's integer 7003 (it was a 400)."""
    update = world.tg.text_update(7003, "hvor lærer jeg dansk")
    update["message"]["chat"]["id"] = 7003.0
    assert world.telegram(update).status_code == 200
    wait_until_delivered(world.engine)
    assert world.tg.chat(7003), "answered in chat 7003, not in a chat '7003.0'"


@pytest.mark.postgres
def test_a_nul_in_a_whatsapp_message_id_is_stored_once_on_postgresql(pg_world):
    """Found: "\\u0000" in a message id made PostgreSQL refuse the row: 503 and the safe
    reply on every one of Meta's redeliveries, for 7 days."""
    notification = pg_world.wa.text("4520777001", "hvor lærer jeg dansk")
    message = notification["entry"][0]["changes"][0]["value"]["messages"][0]
    message["id"] = "wamid.\u0000X"
    for _ in range(2):  # and Meta's redelivery
        assert pg_world.whatsapp(notification).status_code == 200
    wait_until_delivered(pg_world.engine)
    assert len(pg_world.inbound("whatsapp", "4520777001")) == 1
    assert pg_world.wa.chat("4520777001")


@pytest.mark.postgres
def test_a_nul_in_a_rest_message_id_is_stored_on_postgresql(pg_world):
    """Found: the same row refused; REST answered 200 with "technical problem" and kept
    nothing of her message."""
    body = {"sender": "fuzz-nul", "message": "hej\u0000", "metadata": {"message_id": "a\u0000"}}
    r = pg_world.http.post(
        "/webhooks/rest/webhook",
        content=json.dumps(body).encode(),  # "\u0000" escaped, as JSON requires
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200
    assert [m.text for m in pg_world.inbound("rest", "fuzz-nul")] == ["hej\ufffd"]


@pytest.mark.parametrize(
    "text", ["0 BENİ ÖLDÜRECEK", "yardım edin beni öldürecek", "korkuyorum beni öldürecek"]
)
def test_a_turkish_threat_after_another_word_gets_the_emergency_reply(world, text):
    r = world.rest(f"fuzz-found-{hashlib.sha1(text.encode()).hexdigest()[:12]}", text)
    assert _emergency_first([m["text"] for m in r.json()])


@pytest.mark.parametrize(
    "text", ["بدي \u200fانتحر", "min \u200bmand slår mig", "تهدید \u200fکرده که منو میکشه"]
)
def test_an_invisible_mark_inside_a_danger_phrase_does_not_hide_it(world, text):
    r = world.rest(f"fuzz-found-{hashlib.sha1(text.encode()).hexdigest()[:12]}", text)
    assert _emergency_first([m["text"] for m in r.json()])


def test_a_rest_message_over_10000_characters_is_refused_at_once(world):
    """Found: a 100,000-character REST message held the whole gateway (every woman, every
    channel) for about a minute while the danger screen read it; now refused (400) before
    anything reads it. Up to 10,000 a long message is cut with a notice, as before."""
    started = time.monotonic()
    r = world.rest("fuzz-long", "ab " * 33_334)
    assert r.status_code == 400 and time.monotonic() - started < 2
    assert world.inbound("rest", "fuzz-long") == []


def test_a_telegram_text_longer_than_telegram_allows_is_refused(world):
    update = world.tg.text_update(7004, "x" * 4097)  # Telegram's limit is 4,096
    assert world.telegram(update).status_code == 400
    assert world.inbound("telegram", "7004") == []


@pytest.mark.skipif(PROFILE != "long", reason="half a minute of CPU: FUZZ_PROFILE=long only")
def test_a_30000_character_whatsapp_message_is_answered_within_5_seconds(world):
    notification = world.wa.text("4520777002", "ab " * 10_000)
    started = time.monotonic()
    assert world.whatsapp(notification).status_code == 200
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/api/v1/cases/909956424891609907200/claim"),
        ("GET", "/api/v1/cases/99999999999999999999"),
    ],
)
def test_a_case_id_past_64_bits_is_no_case_not_a_server_error(world, method, path):
    """Found by the long profile: OverflowError (SQLite) and 500 on every
    /api/v1/cases/{case_id} route; fixed in bot/workspace meanwhile."""
    headers = {"Authorization": f"Bearer {world.api_token}"}
    assert world.http.request(method, path, headers=headers).status_code == 404
