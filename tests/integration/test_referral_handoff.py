"""The human handoff end to end on Telegram (issue 6's "done when"): a fake Bot API speaking
Telegram's wire format, the gateway with its delivery worker, a scripted Rasa, and the
counsellors' JSON API, all over real HTTP on loopback.

She asks for a person in Arabic -> the case waits in the queue of an Arabic-speaking
counsellor (not a Somali-speaking one) -> claimed -> the counsellor's answer arrives in her
Telegram chat -> while the case is held the bot says nothing and Rasa is not asked, except
that danger still gets the emergency numbers -> resolved -> she is told the bot is back, and
it answers her again.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.orm import Session

from bot.referrals.models import EMERGENCY, Case
from bot.settings import Settings
from bot.storage.db import make_engine, migrate
from bot.workspace import auth
from common import texts
from gateway.app import create_app
from tests.support.delivery import wait_until_delivered
from tests.support.fake_rasa import FakeActions, FakeRasa
from tests.support.fake_telegram import FakeTelegram
from tests.support.replies import emergency_message
from tests.support.servers import serve
from tests.support.waiting import wait_for

SECRET = "s3cret-token_for-tests"
CHAT = 424242
HANDOFF = {
    "custom": {
        "directive": {
            "kind": "handoff",
            "topic": "violence",
            "language": "ar",
            "priority": "normal",
            "woman_counsellor": True,
            "contact_later": False,
        }
    }
}


@pytest.fixture
def env(sqlite_url):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    tokens = {}
    with Session(engine) as db:
        for name, langs in (("amal", "ar,en"), ("hodan", "so")):
            user = auth.create_user(db, name, "a long password", languages=langs, is_woman=True)
            tokens[name] = auth.create_token(db, user)
            auth.start_session(db, user)  # on duty: logged in to the workspace
        db.commit()
    rasa, actions, tg = FakeRasa(), FakeActions(), FakeTelegram()
    with serve(rasa.app) as rasa_url, serve(actions.app) as action_url, serve(tg.app) as tg_url:
        settings = Settings(
            hash_key="test-key",
            database_url=sqlite_url,
            rasa_url=rasa_url,
            action_server_url=action_url,
            rasa_timeout_s=5,
            telegram_mode="webhook",
            telegram_token="123456:TEST-token",
            telegram_secret=SECRET,
            telegram_api_url=tg_url,
            delivery_backoff_s=0.2,
        )
        with serve(create_app(settings)) as url:
            api = {
                name: httpx.Client(
                    base_url=url, timeout=10, headers={"Authorization": f"Bearer {token}"}
                )
                for name, token in tokens.items()
            }
            yield url, rasa, tg, api, engine
    engine.dispose()


def say(url, tg, text):
    r = httpx.post(
        f"{url}/webhooks/telegram",
        json=tg.text_update(CHAT, text),
        timeout=10,
        headers={"x-telegram-bot-api-secret-token": SECRET},
    )
    assert r.status_code == 200


def chat_texts(tg) -> list[str]:
    return [m["text"] for m in tg.chat(CHAT)]


def test_arabic_handoff_on_telegram_claimed_answered_resolved_with_the_bot_silent(env):
    url, rasa, tg, api, engine = env
    rasa.replies = [HANDOFF]
    say(url, tg, "أريد التحدث مع امرأة من فضلك")
    wait_for(lambda: chat_texts(tg), what="her handoff confirmation")
    queued = texts.text("utter_handoff_queued", "ar").split("{")[0].strip()
    assert chat_texts(tg)[0].startswith(queued[:20]), chat_texts(tg)

    assert api["hodan"].get("/api/v1/queue").json()["cases"] == [], (
        "a Somali-speaking counsellor is not offered an Arabic case"
    )
    [case] = api["amal"].get("/api/v1/queue").json()["cases"]
    assert (case["language"], case["topic"], case["woman_counsellor"]) == ("ar", "violence", True)
    assert api["amal"].post(f"/api/v1/cases/{case['id']}/claim").status_code == 200

    answer = "مرحبا، أنا أمل. أنا هنا لأستمع إليك."
    assert (
        api["amal"].post(f"/api/v1/cases/{case['id']}/reply", json={"text": answer}).status_code
        == 201
    )
    wait_for(lambda: answer in chat_texts(tg), what="the counsellor's answer in her chat")

    asked = len(rasa.received)
    before = len(tg.chat(CHAT))
    say(url, tg, "شكرا لك، زوجي في العمل الآن")
    transcript = wait_for(
        lambda: [
            m
            for m in api["amal"].get(f"/api/v1/cases/{case['id']}").json()["transcript"]
            if m["text"].startswith("شكرا لك")
        ],
        what="her message in the counsellor's transcript",
    )
    assert transcript[0]["direction"] == "in"
    # The webhook answered after the pipeline was done with her message: any reply it made
    # is stored by now, and once the worker has sent everything it is in the fake chat.
    wait_until_delivered(engine, what="anything the bot might have queued")
    assert len(rasa.received) == asked, "Rasa was asked while a counsellor held her case"
    assert len(tg.chat(CHAT)) == before, "the bot spoke while a counsellor held her case"

    r = api["amal"].post(
        f"/api/v1/cases/{case['id']}/resolve",
        json={"outcome": "referred", "referred_service": "Lev Uden Vold"},
    )
    assert r.status_code == 200
    back = texts.text("utter_handoff_resolved", "ar")
    wait_for(lambda: back in chat_texts(tg), what="the bot-is-back notice in her chat")

    rasa.replies = [{"text": "أهلا بك من جديد"}]
    say(url, tg, "مرحبا")
    wait_for(lambda: "أهلا بك من جديد" in chat_texts(tg), what="the bot answering again")
    assert len(rasa.received) == asked + 1


def test_danger_while_held_gets_the_emergency_numbers_and_raises_the_case(env):
    url, rasa, tg, api, engine = env
    rasa.replies = [HANDOFF]
    say(url, tg, "أريد التحدث مع امرأة")
    [case] = wait_for(
        lambda: api["amal"].get("/api/v1/queue").json()["cases"], what="the case in the queue"
    )
    api["amal"].post(f"/api/v1/cases/{case['id']}/claim")
    asked = len(rasa.received)
    say(url, tg, "سوف يقتلني")  # "he will kill me"
    emergency = emergency_message("ar")
    wait_for(lambda: emergency in chat_texts(tg), what="the emergency numbers in her chat")
    assert len(rasa.received) == asked, "the counsellor answers; Rasa stays out"
    with Session(engine) as db:
        assert db.get(Case, case["id"]).priority == EMERGENCY
