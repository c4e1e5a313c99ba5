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
from tests.support.replies import emergency_message
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
        privacy_notice=False,  # these tests count messages; the notice: test_*_privacy_notice
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
    assert sent[0]["text"]["body"] == emergency_message("en")
    assert sent[1]["text"]["body"] == texts.text("utter_service_down", "en")


def test_rasa_outage_keeps_the_message_and_the_answer_follows(env):
    env.rasa.mode = "error"
    env.notify(env.wa.text(WA, "Merhaba, Danca kursu nerede?"))
    first = wait_for(lambda: env.wa.chat(WA))
    assert first[0]["text"]["body"] == texts.text("utter_service_down", "tr")
    env.rasa.mode = "ok"
    wait_for(lambda: len(env.wa.chat(WA)) == 2, timeout=15)


# -- hardening: what a correctly signed but broken notification does --------------------------


def _post_signed(env, body: bytes, client=None, content_type="application/json"):
    headers = {"x-hub-signature-256": env.wa.sign(body)}
    if content_type:
        headers["content-type"] = content_type
    return (client or httpx).post(f"{env.url}/webhooks/whatsapp", content=body, headers=headers)


def _still_answers(env, client, wa_id="4520999999"):
    body, headers = env.wa.signed(env.wa.text(wa_id, "hvor lærer jeg dansk"))
    r = client.post(f"{env.url}/webhooks/whatsapp", content=body, headers=headers)
    assert r.status_code == 200
    wait_for(lambda: env.wa.chat(wa_id), what="the next notification answered")


def _answers(env, wa_id: str = WA) -> list[dict]:
    """Her chat without the emergency reply (a danger screen may flag a test message; these
    tests are about something else)."""

    def body(m):
        return (m.get("text") or {}).get("body") or m.get("interactive", {}).get("body", {})

    return [m for m in env.wa.chat(wa_id) if not ("112" in str(body(m)) and "1888" in str(body(m)))]


def _no_row_left_unfinished(env):
    with env.session() as db:
        rows = db.scalars(select(Message)).all()
    unfinished = [m for m in rows if m.status in ("received", "sending", "queued")]
    assert unfinished == [], [(m.direction, m.status, m.text) for m in unfinished]


def _broken(wa, case: str) -> bytes:
    import json

    if case == "nested 1,000 deep":
        return (
            b'{"object": "whatsapp_business_account", "entry": ' + b"[" * 1000 + b"]" * 1000 + b"}"
        )
    notification = wa.text(WA, "hvad er et sundhedskort")
    value = notification["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    if case == "text a string":
        message["text"] = "hvad er et sundhedskort"
    elif case == "type a list":
        message["type"] = ["text"]
    elif case == "interactive reply a string":
        message.update(type="interactive", interactive={"button_reply": "b:1:0"})
    else:
        status = wa.status("wamid.X", WA, "delivered")["entry"][0]["changes"][0]["value"]
        del value["messages"]
        if case == "statuses an object":
            value["statuses"] = status["statuses"][0]
        elif case == 'statuses [""]':
            value["statuses"] = [""]
        elif case == "errors a string":
            value["statuses"] = [{**status["statuses"][0], "status": "failed", "errors": "boom"}]
    return json.dumps(notification).encode()


@pytest.mark.parametrize(
    "case",
    [
        "nested 1,000 deep",
        "text a string",
        "type a list",
        "interactive reply a string",
        "statuses an object",
        'statuses [""]',
        "errors a string",
    ],
)
def test_a_signed_notification_with_wrong_types_is_refused_before_anything_is_stored(env, case):
    with httpx.Client(timeout=10) as client:
        r = _post_signed(env, _broken(env.wa, case), client)
        assert r.status_code == 400, r.text
        assert env.rasa.received == [] and env.outbound() == []
        _still_answers(env, client)
    _no_row_left_unfinished(env)


def test_contact_cards_and_a_contacts_list_get_the_kind_reply(env):
    card = [{"name": {"formatted_name": "Sara", "first_name": "Sara"}, "phones": []}]
    notification = env.wa.message(WA, card, "contacts")  # "contacts": [...] as Meta sends
    notification["entry"][0]["changes"][0]["value"]["contacts"] = {"wa_id": WA}  # not a list
    assert env.notify(notification).status_code == 200
    sent = wait_for(lambda: _answers(env))
    assert sent[0]["text"]["body"] == texts.text("utter_unsupported_media", "en")
    assert env.rasa.received == []


def test_a_late_delivered_report_does_not_overwrite_failed(env):
    env.notify(env.wa.text(WA, "hello"))
    wamid = wait_for(lambda: env.wa.chat(WA))[0]["id"]
    wait_for(lambda: any(m.status == "sent" for m in env.outbound()))
    env.notify(env.wa.status(wamid, WA, "failed", [{"code": 131047, "title": "Re-engagement"}]))
    for status in ("delivered", "read", "sent"):  # late reports, out of order
        assert env.notify(env.wa.status(wamid, WA, status)).status_code == 200
    out = env.outbound()[0]
    assert out.status == "failed" and "131047" in out.last_error


def test_a_lone_surrogate_is_stored_and_answered_once_not_503_on_every_redelivery(env):
    import json

    body = json.dumps(env.wa.text(WA, "hvor kan jeg lære dansk PLACEHOLDER")).encode()
    body = body.replace(b"PLACEHOLDER", b"\\ud800")
    for _ in range(2):  # and Meta's redelivery
        assert _post_signed(env, body).status_code == 200
    wait_for(lambda: _answers(env))
    time.sleep(0.5)
    assert [m["text"]["body"] for m in _answers(env)] == ["echo: hvor kan jeg lære dansk \ufffd"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_a_notification_that_is_not_json_is_refused_with_415(env, content_type):
    body, _ = env.wa.signed(env.wa.text(WA, "hello"))
    with httpx.Client(timeout=10) as client:
        assert _post_signed(env, body, client, content_type).status_code == 415
        assert env.rasa.received == []
        _still_answers(env, client)


def test_danish_terms_use_whatsapps_own_italics(env):
    env.rasa.replies = [{"text": "Gå til *Borgerservice* og **husk** dit *sundhedskort*; 5*3*2"}]
    env.notify(env.wa.text(WA, "sundhedskort?"))
    sent = wait_for(lambda: _answers(env))[0]
    assert sent["text"]["body"] == "Gå til _Borgerservice_ og *husk* dit _sundhedskort_; 5*3*2"
    env.rasa.replies = [
        {"text": "Vælg *CPR*", "buttons": [{"title": "*CPR*-nummer", "payload": "/x"}]}
    ]
    env.notify(env.wa.text(WA, "cpr?"))
    sent = wait_for(lambda: len(_answers(env)) == 2 and _answers(env))[1]
    assert sent["interactive"]["body"]["text"] == "Vælg _CPR_"
    assert sent["interactive"]["action"]["buttons"][0]["reply"]["title"] == "CPR-nummer"


def test_a_photos_caption_is_answered_as_her_question(env):
    image = {"id": "media-2", "mime_type": "image/jpeg", "caption": "Hvad betyder dette brev?"}
    env.notify(env.wa.message(WA, image, "image"))
    sent = wait_for(lambda: _answers(env))
    assert sent[0]["text"]["body"] == "echo: Hvad betyder dette brev?"


def test_deleting_her_data_is_confirmed_in_her_chat(env):
    env.notify(env.wa.text(WA, "hello"))
    wait_for(lambda: env.wa.chat(WA))
    env.rasa.replies = [
        {"text": texts.text("utter_deleted", "en")},
        {"custom": {"directive": {"kind": "erase"}}},
    ]
    assert env.notify(env.wa.button_reply(WA, "b:1:0", "Yes, delete")).status_code == 200
    deleted = texts.text("utter_deleted", "en")
    wait_for(lambda: [m for m in env.wa.chat(WA) if m["text"]["body"] == deleted], what="confirmed")
    assert env.outbound() == [], "her messages are erased"


@pytest.fixture
def env_with_notice(sqlite_url):
    yield from _env(sqlite_url, privacy_notice=True)


def test_whatsapp_privacy_notice_follows_her_first_answer_once(env_with_notice):
    env = env_with_notice
    env.notify(env.wa.text(WA, "Merhaba, doktor hakkında bir sorum var"))
    first = wait_for(lambda: len(env.wa.chat(WA)) == 2 and env.wa.chat(WA))
    notice = texts.text("utter_privacy_notice", "tr", days="30")
    assert [m["text"]["body"] for m in first] == [
        "echo: Merhaba, doktor hakkında bir sorum var",
        notice,
    ]
    env.notify(env.wa.text(WA, "Doktoru nerede bulurum?"))
    later = wait_for(lambda: len(env.wa.chat(WA)) == 3 and env.wa.chat(WA))
    assert later[2]["text"]["body"] == "echo: Doktoru nerede bulurum?", "given once"
