"""WhatsApp end to end over real HTTP on loopback: a fake Graph API in the Cloud API's wire
format, signed notifications as Meta sends them, the gateway with its delivery worker, and a
scripted Rasa. What a woman on WhatsApp depends on: answers in her chat within WhatsApp's
limits, buttons that work, delivery reports recorded, the 24-hour window respected, and
forged or replayed notifications refused or processed once."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import sessionmaker

from bot.core.outbox import Reply, enqueue
from bot.settings import Settings
from bot.storage.models import Contact, Message, utcnow
from common import texts
from gateway.app import create_app
from tests.support.fake_rasa import FakeActions, FakeRasa
from tests.support.fake_whatsapp import PHONE_NUMBER_ID, VERSION, FakeWhatsApp
from tests.support.servers import serve
from tests.support.waiting import wait_for

WA = "4520123456"
VERIFY = "verify-me-please"


class Env:
    def __init__(self, url, app, rasa, wa, db_url):
        self.url, self.app, self.rasa, self.wa, self.db_url = url, app, rasa, wa, db_url

    def notify(self, notification: dict):
        body, headers = self.wa.signed(notification)
        return httpx.post(
            f"{self.url}/webhooks/whatsapp", content=body, headers=headers, timeout=10
        )

    def session(self):
        return sessionmaker(create_engine(self.db_url), expire_on_commit=False)()

    def outbound(self):
        with self.session() as db:
            return db.scalars(
                select(Message).where(Message.direction == "out").order_by(Message.id)
            ).all()


def _settings(rasa_url, action_url, db_url, wa_url, **extra):
    values = dict(
        hash_key="test-key",
        database_url=db_url,
        rasa_url=rasa_url,
        action_server_url=action_url,
        rasa_timeout_s=5,
        whatsapp_token="EAAG-test-token",
        whatsapp_phone_number_id=PHONE_NUMBER_ID,
        whatsapp_app_secret="app-secret",
        whatsapp_verify_token=VERIFY,
        whatsapp_api_url=wa_url,
        whatsapp_api_version=VERSION,
        delivery_backoff_s=0.2,
    )
    values.update(extra)
    return Settings(**values)


def _env(sqlite_url, **extra):
    rasa, actions, wa = FakeRasa(), FakeActions(), FakeWhatsApp()
    with serve(rasa.app) as rasa_url, serve(actions.app) as action_url, serve(wa.app) as wa_url:
        app = create_app(_settings(rasa_url, action_url, sqlite_url, wa_url, **extra))
        with serve(app) as url:
            yield Env(url, app, rasa, wa, sqlite_url)


@pytest.fixture
def env(sqlite_url):
    yield from _env(sqlite_url)


@pytest.fixture
def env_with_template(sqlite_url):
    yield from _env(sqlite_url, whatsapp_template="reply_waiting")


def test_the_verification_handshake_echoes_the_challenge_only_with_the_right_token(env):
    ok = httpx.get(
        f"{env.url}/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = httpx.get(
        f"{env.url}/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
    )
    assert bad.status_code == 403


def test_an_arabic_question_is_answered_in_her_chat(env):
    assert env.notify(env.wa.text(WA, "وين أقدر أتعلم الدنماركي؟")).status_code == 200
    sent = wait_for(lambda: env.wa.chat(WA))
    assert sent[0]["type"] == "text"
    assert sent[0]["text"]["body"] == "echo: وين أقدر أتعلم الدنماركي؟"
    assert env.rasa.received[-1]["metadata"]["language"] == "ar"
    out = wait_for(lambda: [m for m in env.outbound() if m.status == "sent"])
    assert out[0].external_id == sent[0]["id"]


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json"},
        {"content-type": "application/json", "x-hub-signature-256": "sha256=" + "0" * 64},
        {"content-type": "application/json", "x-hub-signature-256": "md5=abc"},
    ],
)
def test_unsigned_or_forged_notifications_are_refused_and_not_stored(env, headers):
    body, _ = env.wa.signed(env.wa.text(WA, "hello"))
    r = httpx.post(f"{env.url}/webhooks/whatsapp", content=body, headers=headers)
    assert r.status_code == 401
    assert env.rasa.received == [] and env.outbound() == []


def test_a_body_changed_after_signing_is_refused(env):
    body, headers = env.wa.signed(env.wa.text(WA, "hello"))
    r = httpx.post(
        f"{env.url}/webhooks/whatsapp", headers=headers, content=body.replace(b"hello", b"HELLO")
    )
    assert r.status_code == 401


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b'{"object": "page", "entry": []}', 400),
        (b"[1]", 400),
        (
            b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",'
            b' "value": {"metadata": {"phone_number_id": "'
            + PHONE_NUMBER_ID.encode()
            + b'"}, "messages": [{"type": "text"}]}}]}]}',
            400,
        ),
        (b'{"object": "whatsapp_business_account", "pad": "' + b"x" * 1_100_000 + b'"}', 413),
    ],
)
def test_malformed_and_oversized_notifications_get_a_clear_status(env, body, status):
    r = httpx.post(
        f"{env.url}/webhooks/whatsapp",
        content=body,
        headers={"content-type": "application/json", "x-hub-signature-256": env.wa.sign(body)},
    )
    assert r.status_code == status
    assert env.rasa.received == []


def test_a_replayed_notification_is_processed_once(env):
    notification = env.wa.text(WA, "hello there")
    assert env.notify(notification).status_code == 200
    assert env.notify(notification).status_code == 200
    wait_for(lambda: env.wa.chat(WA))
    time.sleep(0.5)
    assert len(env.rasa.received) == 1 and len(env.wa.chat(WA)) == 1


def test_three_choices_are_reply_buttons_within_whatsapps_limits_and_a_tap_reaches_rasa(env):
    payload = '/ask_question{"entry_id": "health.gp"}'
    env.rasa.replies = [
        {
            "text": "Hvad mener du?",
            "buttons": [
                {"title": "Egen læge og sundhedskort", "payload": payload},
                {"title": "Vagtlæge", "payload": "/ask_question"},
                {"title": "Tolk", "payload": "/ask_question"},
            ],
        }
    ]
    env.notify(env.wa.text(WA, "læge?"))
    sent = wait_for(lambda: env.wa.chat(WA))[0]
    assert sent["interactive"]["type"] == "button"
    buttons = sent["interactive"]["action"]["buttons"]
    assert [b["reply"]["title"] for b in buttons] == ["Egen læge og sundhe…", "Vagtlæge", "Tolk"]
    env.rasa.replies = None
    env.notify(env.wa.button_reply(WA, buttons[0]["reply"]["id"], buttons[0]["reply"]["title"]))
    wait_for(lambda: len(env.wa.chat(WA)) == 2)
    assert env.rasa.received[-1]["message"] == payload


def test_more_than_three_choices_become_a_list_message(env):
    env.rasa.replies = [
        {
            "text": "Choose your language",
            "buttons": [
                {"title": t, "payload": f'/choose_language{{"language": "{c}"}}'}
                for t, c in [
                    ("English", "en"),
                    ("Dansk", "da"),
                    ("العربية", "ar"),
                    ("Soomaali", "so"),
                    ("Українська", "uk"),
                ]
            ],
        }
    ]
    env.notify(env.wa.text(WA, "hi"))
    sent = wait_for(lambda: env.wa.chat(WA))[0]
    assert sent["interactive"]["type"] == "list"
    rows = sent["interactive"]["action"]["sections"][0]["rows"]
    assert [r["title"] for r in rows][:3] == ["English", "Dansk", "العربية"]
    env.rasa.replies = None
    env.notify(env.wa.list_reply(WA, rows[3]["id"], rows[3]["title"]))
    wait_for(lambda: len(env.wa.chat(WA)) == 2)
    assert env.rasa.received[-1]["message"] == '/choose_language{"language": "so"}'


def test_a_long_answer_is_split_under_the_text_limit(env):
    answer = ("Lev Uden Vold rådgiver døgnet rundt på telefon 1888. " * 120).strip()
    env.rasa.replies = [{"text": answer}]
    env.notify(env.wa.text(WA, "hjælp til vold?"))
    parts = wait_for(lambda: len(env.wa.chat(WA)) >= 2 and env.wa.chat(WA))
    assert all(len(p["text"]["body"]) <= 4096 for p in parts)
    assert " ".join(p["text"]["body"] for p in parts) == answer


def test_delivery_reports_are_recorded_and_never_go_backwards(env):
    env.notify(env.wa.text(WA, "hello"))
    wamid = wait_for(lambda: env.wa.chat(WA))[0]["id"]
    wait_for(lambda: any(m.status == "sent" for m in env.outbound()))
    for status in ("delivered", "read", "delivered"):  # out of order, as Meta may send
        assert env.notify(env.wa.status(wamid, WA, status)).status_code == 200
    assert env.outbound()[0].status == "read"


def test_a_failed_report_is_visible_with_its_reason(env):
    env.notify(env.wa.text(WA, "hello"))
    wamid = wait_for(lambda: env.wa.chat(WA))[0]["id"]
    wait_for(lambda: any(m.status == "sent" for m in env.outbound()))
    env.notify(
        env.wa.status(wamid, WA, "failed", [{"code": 131026, "title": "Message undeliverable"}])
    )
    out = env.outbound()[0]
    assert out.status == "failed" and "131026" in out.last_error


def test_graph_rate_limit_is_retried_after_a_pause(env):
    env.app.state.whatsapp.rate_limit_wait_s = 0.5
    env.wa.fail_next = [(400, 130429, "Rate limit hit")]
    env.notify(env.wa.text(WA, "first"))
    sent = wait_for(lambda: env.wa.chat(WA), what="the retried message")
    assert sent[0]["text"]["body"] == "echo: first"
    out = wait_for(lambda: [m for m in env.outbound() if m.status == "sent"])
    assert out[0].attempts == 2


def test_a_permanent_graph_error_is_recorded_not_retried(env):
    env.wa.fail_next = [(400, 131030, "Recipient phone number not in allowed list")]
    env.notify(env.wa.text(WA, "hello"))
    failed = wait_for(lambda: [m for m in env.outbound() if m.status == "failed"])
    assert "131030" in failed[0].last_error and failed[0].attempts == 1
    time.sleep(0.5)
    assert env.wa.chat(WA) == []


def test_a_voice_note_gets_a_kind_reply_and_is_not_sent_to_rasa(env):
    env.notify(env.wa.text(WA, "Salaan, su'aal baan qabaa"))
    wait_for(lambda: env.wa.chat(WA))
    env.notify(
        env.wa.message(
            WA, {"id": "media-1", "mime_type": "audio/ogg; codecs=opus", "voice": True}, "audio"
        )
    )
    sent = wait_for(lambda: len(env.wa.chat(WA)) == 2 and env.wa.chat(WA))
    assert sent[1]["text"]["body"] == texts.text("utter_unsupported_media", "so")
    assert len(env.rasa.received) == 1


def _close_window(env):
    with env.session() as db:
        db.execute(update(Contact).values(last_seen_at=utcnow() - timedelta(hours=25)))
        db.commit()


def _counsellor_writes(env, text):
    with env.session() as db:
        contact = db.scalar(select(Contact))
        enqueue(db, contact, [Reply(text, kind="counsellor")])
        db.commit()
    env.app.state.delivery.wake()


def test_after_24_hours_a_reply_is_held_until_she_writes_again(env):
    env.notify(env.wa.text(WA, "hello"))
    wait_for(lambda: env.wa.chat(WA))
    _close_window(env)
    _counsellor_writes(env, "Good morning, I am Sara, a counsellor.")
    held = wait_for(lambda: [m for m in env.outbound() if m.status == "held"])
    assert held[0].text.startswith("Good morning")
    assert len(env.wa.chat(WA)) == 1, "nothing may be sent outside the window"
    env.notify(env.wa.text(WA, "hi, I am here"))
    sent = wait_for(
        lambda: [
            m["text"]["body"]
            for m in env.wa.chat(WA)
            if m.get("type") == "text" and "Sara" in m["text"]["body"]
        ]
    )
    assert sent == ["Good morning, I am Sara, a counsellor."]


def test_with_a_template_configured_she_is_told_once_that_a_reply_waits(env_with_template):
    env = env_with_template
    env.notify(env.wa.text(WA, "hello"))
    wait_for(lambda: env.wa.chat(WA))
    _close_window(env)
    _counsellor_writes(env, "First reply")
    _counsellor_writes(env, "Second reply")
    wait_for(lambda: len([m for m in env.outbound() if m.status == "held"]) == 2)
    templates = [m for m in env.wa.chat(WA) if m["type"] == "template"]
    assert [t["template"]["name"] for t in templates] == ["reply_waiting"]


def test_database_outage_still_answers_safely_and_asks_meta_to_redeliver(env):
    env.app.state.pipeline.sessions = sessionmaker(
        create_engine("sqlite:////nonexistent-dir/bot.db")
    )
    r = env.notify(env.wa.text(WA, "he is going to kill me"))
    assert r.status_code == 503
    sent = wait_for(lambda: len(env.wa.chat(WA)) == 2 and env.wa.chat(WA))
    assert sent[0]["text"]["body"] == texts.text("utter_emergency", "en")


def test_rasa_outage_keeps_the_message_and_the_answer_follows(env):
    env.rasa.mode = "error"
    env.notify(env.wa.text(WA, "Merhaba, Danca kursu nerede?"))
    first = wait_for(lambda: env.wa.chat(WA))
    assert first[0]["text"]["body"] == texts.text("utter_service_down", "tr")
    env.rasa.mode = "ok"
    wait_for(lambda: len(env.wa.chat(WA)) == 2, timeout=15)
