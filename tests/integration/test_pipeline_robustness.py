"""What she gets when the pipeline meets trouble that is not an outage, or an outage she can
still be helped through: Rasa with nothing to say, one message that keeps failing, a flood of
messages, a request for a person while Rasa is down; and the privacy notice, once.

Real gateway on loopback, real SQLite, scripted Rasa and action server (tests/support)."""

from __future__ import annotations

import html
import time

import httpx
import pytest

from bot.referrals import Case
from bot.referrals.models import EMERGENCY as EMERGENCY_PRIORITY
from bot.settings import Settings
from bot.storage.models import Message
from common import texts
from gateway.app import create_app
from tests.integration import test_gateway
from tests.integration.test_gateway import count, post, stored_texts
from tests.support.replies import emergency_message
from tests.support.servers import serve

EMERGENCY = emergency_message("en")
fakes, gateway = test_gateway.fakes, test_gateway.gateway  # the same fixtures


def _texts(response: httpx.Response) -> list[str]:
    assert response.status_code == 200
    return [r["text"] for r in response.json()]


def test_rasa_answering_nothing_is_not_an_outage(gateway):
    url, rasa, _, db = gateway
    post(url, "e1", "hello, I have a question about my health card")
    rasa.mode = "empty"  # e.g. a payload that no rule expects; the action server is up
    assert _texts(post(url, "e1", "/request_human")) == [texts.text("utter_default", "en")]
    assert count(db, Message, Message.direction == "in", Message.status == "pending") == 0


def test_one_failing_message_does_not_hold_back_another_womans(gateway):
    url, rasa, _, db = gateway
    rasa.mode = "error"
    post(url, "f1", "what is the citizenship test")
    post(url, "f2", "where do I learn Danish")
    assert count(db, Message, Message.status == "pending") == 2
    rasa.mode, rasa.fail_on = "ok", {"what is the citizenship test"}  # hers keeps failing
    deadline = time.monotonic() + 20  # the gateway retries every 5 s
    answer = "echo: where do I learn Danish"
    while answer not in stored_texts(db) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stored_texts(db).count(answer) == 1, "the other woman's message was answered"
    pending = stored_texts(db, Message.status == "pending")
    assert pending == ["what is the citizenship test"], "hers is kept, not lost"


@pytest.fixture
def limited(fakes):
    rasa, rasa_url, _, action_url = fakes

    def start(database_url: str):
        settings = Settings(
            hash_key="test-key",
            database_url=database_url,
            rasa_url=rasa_url,
            action_server_url=action_url,
            rate_limit_per_minute=3,
        )
        return serve(create_app(settings))

    return rasa, start


def test_a_flood_is_kept_not_answered_and_danger_still_comes_first(limited, sqlite_url):
    rasa, start = limited
    with start(sqlite_url) as url:
        for n in range(3):
            assert _texts(post(url, "r1", f"question number {n} about health"))
        slow = texts.text("utter_slow_down", "en")
        assert _texts(post(url, "r1", "question number 3 about health")) == [slow]
        assert _texts(post(url, "r1", "question number 4 about health")) == [], "told once"
        danger = _texts(post(url, "r1", "he is going to kill me"))
        assert danger[0] == EMERGENCY
        assert len(rasa.received) == 3, "nothing over the limit reached Rasa"
        assert count(sqlite_url, Message, Message.direction == "in") == 6, "every one is kept"


def test_privacy_notice_comes_once_after_her_first_answer_and_again_on_request(gateway):
    url, _, _, _ = gateway
    notice = texts.text("utter_privacy_notice", "da", days="30")
    assert "30" in notice and "/privacy" in notice
    first = _texts(post(url, "p1", "Hvor kan jeg lære dansk?"))
    assert first == ["echo: Hvor kan jeg lære dansk?", notice], "the answer first, then once"
    assert _texts(post(url, "p1", "Hvad koster det?")) == ["echo: Hvad koster det?"]
    assert _texts(post(url, "p1", "/privacy")) == [notice]


def test_privacy_notice_waits_until_she_has_chosen_a_language(gateway):
    url, _, _, _ = gateway
    menu = _texts(post(url, "p2", "👋👋"))
    assert menu == [texts.text("utter_ask_language", None)]
    chosen = _texts(post(url, "p2", '/choose_language{"language": "so"}'))
    assert chosen[-1] == texts.text("utter_privacy_notice", "so", days="30")


def test_with_rasa_down_her_request_for_a_person_still_opens_an_urgent_case(gateway):
    url, rasa, _, db = gateway
    rasa.mode = "error"
    first = post(url, "u1", "please help me he is going to kill me").json()
    assert [r["text"] for r in first] == [
        EMERGENCY,
        texts.text("utter_service_down", "en"),
        texts.text("utter_offer_counsellor", "en"),
        texts.text("utter_privacy_notice", "en", days="30"),
    ]
    assert first[2]["buttons"][0]["payload"] == "/request_human"
    reply = _texts(post(url, "u1", "/request_human"))
    assert reply == [texts.text("utter_handoff_nobody", "en")], "told plainly nobody is there"
    assert "112" in reply[0] and "1888" in reply[0]
    assert count(db, Case) == 1
    assert count(db, Case, Case.priority == EMERGENCY_PRIORITY, Case.topic == "violence") == 1
    # her first message waits for Rasa; the request for a person was fully answered
    assert stored_texts(db, Message.status == "pending") == [
        "please help me he is going to kill me"
    ]


def test_the_privacy_page_gives_the_notice_in_every_first_language(gateway):
    url, _, _, _ = gateway
    page = httpx.get(f"{url}/privacy")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for lang in ("ar", "so", "uk", "fa", "prs", "ur", "tr", "ti", "en", "da"):
        notice = texts.text("utter_privacy_notice", lang, days="30")
        assert html.escape(notice) in page.text, lang
    assert '<p lang="ar" dir="rtl">' in page.text
