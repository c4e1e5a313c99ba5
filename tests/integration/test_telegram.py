"""Telegram end to end over real HTTP on loopback: a fake Bot API speaking Telegram's wire
format, the gateway with its delivery worker, and a scripted Rasa. What a woman on Telegram
depends on: every message answered once, in order, in her chat; buttons that work; nothing
lost when something fails; forged or broken webhooks refused."""

from __future__ import annotations

import html
import threading
import time

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from bot.settings import Settings
from bot.storage.models import Message
from common import texts
from gateway.app import create_app
from tests.support.fake_rasa import FakeActions, FakeRasa
from tests.support.fake_telegram import FakeTelegram
from tests.support.replies import emergency_message
from tests.support.servers import serve
from tests.support.waiting import wait_for

SECRET = "s3cret-token_for-tests"


class Env:
    def __init__(self, url, app, rasa, telegram, db_url):
        self.url, self.app, self.rasa, self.tg, self.db_url = url, app, rasa, telegram, db_url

    def post(self, update: dict, secret: str | None = SECRET, **kw):
        headers = {"x-telegram-bot-api-secret-token": secret} if secret is not None else {}
        return httpx.post(
            f"{self.url}/webhooks/telegram", json=update, headers=headers, timeout=10, **kw
        )

    def rows(self, *where):
        engine = create_engine(self.db_url)
        with sessionmaker(engine)() as db:
            rows = db.scalars(select(Message).where(*where).order_by(Message.id)).all()
        engine.dispose()
        return rows


def _settings(rasa_url, action_url, db_url, tg_url, **extra):
    values = dict(
        hash_key="test-key",
        database_url=db_url,
        rasa_url=rasa_url,
        action_server_url=action_url,
        rasa_timeout_s=5,
        telegram_mode="webhook",
        telegram_token="123456:TEST-token",
        telegram_secret=SECRET,
        telegram_api_url=tg_url,
        delivery_backoff_s=0.2,
        privacy_notice=False,  # these tests count messages; the notice: test_*_privacy_notice
    )
    values.update(extra)
    return Settings(**values)


def _env(db_url, **extra):
    rasa, actions, tg = FakeRasa(), FakeActions(), FakeTelegram()
    with serve(rasa.app) as rasa_url, serve(actions.app) as action_url, serve(tg.app) as tg_url:
        app = create_app(_settings(rasa_url, action_url, db_url, tg_url, **extra))
        with serve(app) as url:
            yield Env(url, app, rasa, tg, db_url)


@pytest.fixture
def env(sqlite_url):
    yield from _env(sqlite_url)


@pytest.fixture
def pg_env(postgres_url):
    yield from _env(postgres_url)


def test_a_question_is_answered_in_her_chat_with_html_escaped(env):
    env.rasa.replies = [{"text": "Ring 1888 <døgnåben> & gratis"}]
    r = env.post(env.tg.text_update(1001, "hvor kan jeg få hjælp?"))
    assert r.status_code == 200
    sent = wait_for(lambda: env.tg.chat(1001), what="the reply in her chat")
    assert sent[0]["parse_mode"] == "HTML"
    assert sent[0]["text"] == "Ring 1888 &lt;døgnåben&gt; &amp; gratis"
    assert env.rasa.received[-1]["metadata"]["language"] == "da"
    out = wait_for(
        lambda: [m for m in env.rows(Message.direction == "out") if m.status == "sent"],
        what="the reply marked sent",
    )
    assert out[0].external_id == f"tg:{sent[0]['message_id']}"


def test_her_chat_id_is_stored_only_as_a_hash_and_encrypted_address(env):
    env.post(env.tg.text_update(987654321, "hello"))
    wait_for(lambda: env.tg.chat(987654321))
    engine = create_engine(env.db_url)
    with engine.connect() as conn:
        dump = "\n".join(
            str(row)
            for table in ("contacts", "messages")
            for row in conn.exec_driver_sql(f"select * from {table}")
        )
    engine.dispose()
    assert "987654321" not in dump


@pytest.mark.parametrize("secret", [None, "", "wrong-secret"])
def test_an_update_without_the_secret_token_is_refused_and_not_stored(env, secret):
    r = env.post(env.tg.text_update(1002, "hello"), secret=secret)
    assert r.status_code == 401
    assert env.rows() == [] and env.rasa.received == []


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b'{"message": {"text": "no update_id"}}', 400),
        (b"[1, 2, 3]", 400),
        (b'{"update_id": 5, "message": {"message_id": "x"}}', 400),
        (b'{"update_id": 6, "message": {"text": "' + b"x" * 1_100_000 + b'"}}', 413),
    ],
)
def test_malformed_and_oversized_updates_get_a_clear_status(env, body, status):
    r = httpx.post(
        f"{env.url}/webhooks/telegram",
        content=body,
        timeout=10,
        headers={"x-telegram-bot-api-secret-token": SECRET, "content-type": "application/json"},
    )
    assert r.status_code == status
    assert "error" in r.json()


def test_a_redelivered_update_is_processed_once(env):
    update = env.tg.text_update(1003, "hello there")
    assert env.post(update).status_code == 200
    assert env.post(update).status_code == 200
    wait_for(lambda: env.tg.chat(1003))
    time.sleep(0.5)
    assert len(env.rasa.received) == 1
    assert len(env.tg.chat(1003)) == 1


def test_replies_arrive_in_the_order_of_her_messages(env):
    for i in range(5):
        env.post(env.tg.text_update(1004, f"message number {i}"))
    sent = wait_for(lambda: len(env.tg.chat(1004)) == 5 and env.tg.chat(1004), what="five replies")
    assert [m["text"] for m in sent] == [f"echo: message number {i}" for i in range(5)]


def test_buttons_become_an_inline_keyboard_and_a_press_reaches_rasa(env):
    payload = '/ask_question{"entry_id": "health.free-health-check-for-refugees-long-id"}'
    env.rasa.replies = [
        {
            "text": "Which one do you mean?",
            "buttons": [
                {"title": "Health check", "payload": payload},
                {"title": "GP", "payload": "/ask_question"},
            ],
        }
    ]
    env.post(env.tg.text_update(1005, "health check?"))
    sent = wait_for(lambda: env.tg.chat(1005))[0]
    keyboard = sent["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["Health check", "GP"]
    data = keyboard[0][0]["callback_data"]
    assert len(data.encode()) <= 64

    env.rasa.replies = None
    press = env.tg.callback_update(1005, data, on_message_id=sent["message_id"])
    assert env.post(press).status_code == 200
    wait_for(lambda: len(env.tg.chat(1005)) == 2)
    assert env.rasa.received[-1]["message"] == payload
    assert env.tg.callback_answers == [press["callback_query"]["id"]]


def test_a_forged_button_of_another_womans_message_is_ignored(env):
    env.rasa.replies = [{"text": "Choose", "buttons": [{"title": "A", "payload": "/secret"}]}]
    env.post(env.tg.text_update(1006, "hi"))
    data = wait_for(lambda: env.tg.chat(1006))[0]["reply_markup"]["inline_keyboard"][0][0][
        "callback_data"
    ]
    before = len(env.rasa.received)
    env.post(env.tg.callback_update(2006, data))  # another chat presses 1006's button
    time.sleep(0.5)
    assert len(env.rasa.received) == before
    assert env.tg.chat(2006) == []


def test_start_in_an_unknown_language_shows_the_language_menu(env):
    env.post(env.tg.text_update(1007, "/start"))
    sent = wait_for(lambda: env.tg.chat(1007))[0]
    menu = texts.response("utter_ask_language", None)
    assert [row[0]["text"] for row in sent["reply_markup"]["inline_keyboard"]] == [
        b["title"] for b in menu["buttons"]
    ]
    assert env.rasa.received == []


@pytest.mark.parametrize(
    "command, intent",
    [("/human", "/request_human"), ("/delete", "/delete_data"), ("/help@orientation_bot", "/help")],
)
def test_commands_reach_rasa_as_intents(env, command, intent):
    env.post(env.tg.text_update(1008, "hej, jeg har et spørgsmål"))
    wait_for(lambda: env.tg.chat(1008))
    env.post(env.tg.text_update(1008, command))
    wait_for(lambda: len(env.tg.chat(1008)) == 2)
    assert env.rasa.received[-1]["message"] == intent


def test_privacy_with_the_bots_username_from_the_command_menu_shows_the_notice(env):
    env.post(env.tg.text_update(1018, "hej, jeg har et spørgsmål"))
    wait_for(lambda: env.tg.chat(1018))
    assert env.post(env.tg.command_update(1018, "/privacy@SomeBot")).status_code == 200
    sent = wait_for(lambda: len(env.tg.chat(1018)) == 2 and env.tg.chat(1018))
    notice = texts.text("utter_privacy_notice", "da", days="30")
    assert html.unescape(sent[1]["text"]) == notice
    assert len(env.rasa.received) == 1, "the notice is the gateway's, not Rasa's"


def test_a_voice_note_gets_a_kind_reply_in_her_language(env):
    env.post(env.tg.text_update(1009, "مرحبا، عندي سؤال"))
    wait_for(lambda: env.tg.chat(1009))
    env.post(env.tg.voice_update(1009))
    sent = wait_for(lambda: len(env.tg.chat(1009)) == 2 and env.tg.chat(1009))
    assert sent[1]["text"] == texts.text("utter_unsupported_media", "ar")
    assert len(env.rasa.received) == 1, "a voice note is not sent to Rasa"


def test_a_long_answer_is_split_at_sentence_ends_under_telegrams_limit(env):
    sentence = "Du har ret til en gratis tolk hos lægen i de første tre år. "
    answer = (sentence * 160).strip()
    env.rasa.replies = [{"text": answer}]
    env.post(env.tg.text_update(1010, "tolk?"))
    parts = wait_for(lambda: len(env.tg.chat(1010)) >= 3 and env.tg.chat(1010))
    assert all(len(p["text"]) <= 4096 for p in parts)
    assert all(p["text"].endswith(".") for p in parts)
    assert " ".join(p["text"] for p in parts) == answer


def test_group_chats_are_not_served(env):
    assert env.post(env.tg.text_update(-100123, "hello", chat_type="supergroup")).status_code == 200
    time.sleep(0.3)
    assert env.rows() == [] and env.tg.sent == []


def test_rate_limited_send_is_retried_after_telegrams_wait(env):
    env.tg.fail_next = [(429, "Too Many Requests: retry after 1", 1)]
    env.post(env.tg.text_update(1011, "hello"))
    wait_for(lambda: env.tg.chat(1011), timeout=10)
    sent = wait_for(
        lambda: [m for m in env.rows(Message.direction == "out") if m.status == "sent"]
    )[0]
    assert sent.attempts == 2


def test_telegram_outage_is_retried_with_backoff_and_nothing_is_lost(env):
    env.tg.fail_next = [(502, "Bad Gateway", None)] * 3
    env.post(env.tg.text_update(1012, "first"))
    env.post(env.tg.text_update(1012, "second"))
    sent = wait_for(lambda: len(env.tg.chat(1012)) == 2 and env.tg.chat(1012), timeout=15)
    assert [m["text"] for m in sent] == ["echo: first", "echo: second"]
    first = wait_for(
        lambda: [m for m in env.rows(Message.direction == "out") if m.status == "sent"]
    )[0]
    assert first.attempts == 4 and first.last_error is None


def test_a_blocked_bot_is_recorded_as_failed_not_retried_forever(env):
    env.tg.fail_next = [(403, "Forbidden: bot was blocked by the user", None)]
    env.post(env.tg.text_update(1013, "hello"))
    failed = wait_for(
        lambda: [m for m in env.rows(Message.direction == "out") if m.status == "failed"]
    )
    assert "blocked" in failed[0].last_error
    time.sleep(0.5)
    assert env.tg.chat(1013) == []


def test_rasa_outage_gives_a_safe_reply_and_the_answer_follows_later(env):
    env.rasa.mode = "error"
    env.post(env.tg.text_update(1014, "Hvor kan jeg lære dansk?"))
    first = wait_for(lambda: env.tg.chat(1014))
    assert first[0]["text"] == texts.text("utter_service_down", "da")
    env.rasa.mode = "ok"
    later = wait_for(
        lambda: len(env.tg.chat(1014)) == 2 and env.tg.chat(1014),
        timeout=15,
        what="the retry worker's answer",
    )
    assert later[1]["text"] == "echo: Hvor kan jeg lære dansk?"


def test_in_a_chat_the_saved_notice_comes_once_for_messages_sent_during_an_outage(env):
    """Three messages while Rasa is down: one "your message is saved" in her chat, not three;
    then the three answers, in her order."""
    env.rasa.mode = "error"
    for text in ("first", "second", "third"):
        env.post(env.tg.text_update(1017, text))
    wait_for(lambda: env.tg.chat(1017), what="the notice")
    time.sleep(0.5)  # a second notice would arrive now
    assert [m["text"] for m in env.tg.chat(1017)] == [texts.text("utter_service_down", "en")]
    env.rasa.mode = "ok"
    wait_for(lambda: len(env.tg.chat(1017)) == 4, timeout=20, what="the retry's answers")
    shown = [m["text"] for m in env.tg.chat(1017)[1:]]
    assert shown == ["echo: first", "echo: second", "echo: third"]


def test_danger_gets_emergency_numbers_first_even_when_rasa_is_down(env):
    env.rasa.mode = "error"
    env.post(env.tg.text_update(1015, "he is going to kill me"))
    sent = wait_for(lambda: len(env.tg.chat(1015)) >= 3 and env.tg.chat(1015))
    assert html.unescape(sent[0]["text"]) == emergency_message("en")
    assert sent[1]["text"] == texts.text("utter_service_down", "en")
    assert sent[2]["text"] == texts.text("utter_offer_counsellor", "en"), "a person, with buttons"


def test_danger_numbers_reach_her_while_rasa_is_still_thinking(env):
    """A slow Rasa (here 3 s) must not hold back 112: on a push channel the emergency
    replies are queued and sent before Rasa is asked; Rasa's answer follows them."""
    env.rasa.delay_s = 3.0
    webhook = threading.Thread(target=env.post, args=(env.tg.text_update(1300, "he hits me"),))
    webhook.start()
    try:
        wait_for(lambda: env.rasa.active == 1, timeout=2.5, what="Rasa asked")
        wait_for(lambda: env.tg.chat(1300), timeout=2.5, what="the emergency numbers")
        assert env.rasa.active == 1, "Rasa has not answered yet"
    finally:
        webhook.join()
    wait_for(lambda: len(env.tg.chat(1300)) == 2, what="Rasa's answer after them")
    time.sleep(0.3)  # a copy of anything would arrive now
    shown = [html.unescape(m["text"]) for m in env.tg.chat(1300)]
    assert shown == [emergency_message("en"), "echo: he hits me"]
    assert [m.status for m in env.rows(Message.direction == "out")] == ["sent"] * 2


def test_a_disclosure_the_patterns_catch_does_not_wait_for_the_model(env, monkeypatch):
    """The model (an encoding on both cores) reads the message only after its emergency
    numbers are out: here it takes 2 s, and 112 is in her chat long before it finishes."""
    from bot.core import safety

    read = safety.screen

    def slow_screen(text, share=False, found=None):
        time.sleep(2.0)
        return read(text, share, found)

    monkeypatch.setattr(safety, "screen", slow_screen)
    webhook = threading.Thread(target=env.post, args=(env.tg.text_update(1302, "he hits me"),))
    webhook.start()
    try:
        sent = wait_for(lambda: env.tg.chat(1302), timeout=1.5, what="the emergency numbers")
        assert html.unescape(sent[0]["text"]) == emergency_message("en")
    finally:
        webhook.join()
    wait_for(lambda: len(env.tg.chat(1302)) == 2, what="Rasa's answer after the model")
    assert html.unescape(env.tg.chat(1302)[1]["text"]) == "echo: he hits me"


def test_emergency_numbers_telegram_refuses_once_are_sent_again_before_the_answer(env):
    """The emergency numbers are sent by her message's own handling, not through the
    delivery worker's claim; when Telegram fails that send, the worker's retry takes over,
    and Rasa's answer waits behind them: each once, in her order."""
    env.tg.fail_next = [(502, "Bad Gateway", None)]
    env.post(env.tg.text_update(1303, "he hits me"))
    wait_for(lambda: len(env.tg.chat(1303)) == 2, timeout=15, what="both replies")
    time.sleep(0.3)  # a copy of anything would arrive now
    shown = [html.unescape(m["text"]) for m in env.tg.chat(1303)]
    assert shown == [emergency_message("en"), "echo: he hits me"]
    rows = env.rows(Message.direction == "out")
    assert [(m.status, m.attempts) for m in rows] == [("sent", 2), ("sent", 1)]


def test_a_kept_disclosure_answered_later_does_not_repeat_the_emergency_numbers(env):
    """Rasa was down when she wrote: she got 112 at once. When the kept message is answered,
    Rasa's own danger reply repeats the emergency text; she is not sent it again."""
    env.rasa.mode = "error"
    env.post(env.tg.text_update(1301, "he is going to kill me"))
    wait_for(lambda: len(env.tg.chat(1301)) == 3, what="the safe replies")
    emergency = texts.text("utter_emergency", "en")
    env.rasa.replies = [
        {"recipient_id": "x", "text": emergency},
        {"recipient_id": "x", "text": "You can call Lev Uden Vold on 1888."},
    ]
    env.rasa.mode = "ok"
    wait_for(lambda: len(env.tg.chat(1301)) >= 4, timeout=15, what="the retry worker's answer")
    time.sleep(0.5)  # a repeated emergency text would arrive now
    shown = [html.unescape(m["text"]) for m in env.tg.chat(1301)]
    assert sum(emergency in text for text in shown) == 1, shown
    assert shown[0] == emergency_message("en")
    assert shown[-1] == "You can call Lev Uden Vold on 1888."


def test_database_outage_still_answers_safely_and_asks_telegram_to_redeliver(env):
    env.app.state.pipeline.sessions = sessionmaker(
        create_engine("sqlite:////nonexistent-dir/bot.db")
    )
    r = env.post(env.tg.text_update(1016, "he is going to kill me"))
    assert r.status_code == 503, "Telegram must deliver the update again"
    sent = wait_for(lambda: len(env.tg.chat(1016)) == 2 and env.tg.chat(1016))
    assert html.unescape(sent[0]["text"]) == emergency_message("en")
    assert sent[1]["text"] == texts.text("utter_service_down", "en")


def test_webhook_is_registered_with_the_secret_and_removed_on_shutdown(sqlite_url):
    rasa, actions, tg = FakeRasa(), FakeActions(), FakeTelegram()
    with serve(rasa.app) as rasa_url, serve(actions.app) as action_url, serve(tg.app) as tg_url:
        settings = _settings(
            rasa_url, action_url, sqlite_url, tg_url, telegram_webhook_url="https://bot.example.org"
        )
        with serve(create_app(settings)):
            assert tg.webhook["url"] == "https://bot.example.org/webhooks/telegram"
            assert tg.webhook["secret_token"] == SECRET
        assert tg.webhook is None and tg.webhook_deleted == 1


def test_polling_mode_answers_without_a_public_address(sqlite_url):
    rasa, actions, tg = FakeRasa(), FakeActions(), FakeTelegram()
    with serve(rasa.app) as rasa_url, serve(actions.app) as action_url, serve(tg.app) as tg_url:
        settings = _settings(rasa_url, action_url, sqlite_url, tg_url, telegram_mode="polling")
        with serve(create_app(settings)) as url:
            tg.updates.append(tg.text_update(1017, "hello from polling"))
            tg.updates.append(tg.text_update(1017, "and again"))
            sent = wait_for(lambda: len(tg.chat(1017)) == 2 and tg.chat(1017))
            assert [m["text"] for m in sent] == ["echo: hello from polling", "echo: and again"]
            # the webhook endpoint is closed in polling mode
            r = httpx.post(
                f"{url}/webhooks/telegram",
                json=tg.text_update(1017, "x"),
                headers={"x-telegram-bot-api-secret-token": SECRET},
            )
            assert r.status_code == 404
        wait_for(lambda: tg.updates == [], what="confirmed updates forgotten")


def test_on_postgresql_a_conversation_is_answered_in_order(pg_env):
    env = pg_env
    update = env.tg.text_update(1020, "first question")
    env.post(update)
    env.post(update)  # redelivered
    env.post(env.tg.text_update(1020, "second question"))
    wait_for(lambda: len(env.tg.chat(1020)) >= 2)
    time.sleep(0.5)  # a duplicate would arrive now
    assert [m["text"] for m in env.tg.chat(1020)] == [
        "echo: first question",
        "echo: second question",
    ]
    wait_for(
        lambda: [m.status for m in env.rows(Message.direction == "out")] == ["sent", "sent"],
        what="both replies recorded as sent",
    )


# -- hardening: what a correctly authenticated but broken update does -------------------------


def _emergency(text: str) -> bool:
    """Whether a text is the emergency reply in some language (a danger screen may flag a
    test message; these tests are about something else)."""
    return "112" in text and "1888" in text


def _answers(env, chat_id: int) -> list[dict]:
    return [m for m in env.tg.chat(chat_id) if not _emergency(m["text"])]


def _no_row_left_unfinished(env):
    unfinished = [m for m in env.rows() if m.status in ("received", "sending", "queued")]
    assert unfinished == [], [(m.direction, m.status, m.text) for m in unfinished]


def _still_answers(env, client, chat_id=1099):
    """The next, well-formed update on the same (kept-alive) connection is answered."""
    r = client.post(
        f"{env.url}/webhooks/telegram",
        json=env.tg.text_update(chat_id, "hvor lærer jeg dansk"),
        headers={"x-telegram-bot-api-secret-token": SECRET},
    )
    assert r.status_code == 200
    wait_for(lambda: env.tg.chat(chat_id), what="the next update answered")


def _broken(tg, case: str) -> dict:
    update = tg.text_update(1030, "hvad er et sundhedskort")
    message = update["message"]
    press = tg.callback_update(1030, "b:1:0")
    query = press["callback_query"]
    if case == "no chat":
        del message["chat"]
    elif case == "text a number":
        message["text"] = 12
    elif case == "text an object":
        message["text"] = {"body": "hi"}
    elif case == "chat.id abc":
        message["chat"]["id"] = "abc"
    elif case == "chat.id true":
        message["chat"]["id"] = True
    elif case == "chat.id {}":
        message["chat"]["id"] = {}
    elif case == "callback message.chat null":
        query["message"]["chat"] = None
        return press
    elif case == "callback from null":
        query["from"] = None
        return press
    elif case == "callback data a number":
        query["data"] = 5
        return press
    elif case == "callback data an object":
        query["data"] = {"b": 1}
        return press
    return update


@pytest.mark.parametrize(
    "case",
    [
        "no chat",
        "text a number",
        "text an object",
        "chat.id abc",
        "chat.id true",
        "chat.id {}",
        "callback message.chat null",
        "callback from null",
        "callback data a number",
        "callback data an object",
    ],
)
def test_an_authenticated_update_with_wrong_types_is_refused_before_anything_is_stored(env, case):
    with httpx.Client(timeout=10) as client:
        r = client.post(
            f"{env.url}/webhooks/telegram",
            json=_broken(env.tg, case),
            headers={"x-telegram-bot-api-secret-token": SECRET},
        )
        assert r.status_code == 400, r.text
        assert "error" in r.json()
        assert env.rows() == [] and env.rasa.received == []
        _still_answers(env, client)
    time.sleep(0.3)
    assert [m["chat_id"] for m in env.tg.sent] == [1099]
    _no_row_left_unfinished(env)


@pytest.mark.parametrize("data", ["b:" + "9" * 400 + ":0", "b:1:" + "9" * 400, "b:²:0", "b:-1:0"])
def test_a_forged_button_reference_is_ignored_not_a_server_error(env, data):
    with httpx.Client(timeout=10) as client:
        r = client.post(
            f"{env.url}/webhooks/telegram",
            json=env.tg.callback_update(1031, data),
            headers={"x-telegram-bot-api-secret-token": SECRET},
        )
        assert r.status_code == 200, r.text
        _still_answers(env, client)
    assert env.tg.chat(1031) == [] and len(env.rasa.received) == 1


def test_a_message_from_a_bot_is_not_answered(env):
    update = env.tg.text_update(1032, "hvad er et sundhedskort")
    update["message"]["from"]["is_bot"] = True
    press = env.tg.callback_update(1032, "b:1:0")
    press["callback_query"]["from"]["is_bot"] = True
    assert env.post(update).status_code == 200
    assert env.post(press).status_code == 200
    time.sleep(0.5)
    assert env.rows() == [] and env.tg.sent == [] and env.rasa.received == []
    assert env.tg.callback_answers == []


def test_a_photos_caption_is_answered_as_her_question(env):
    env.post(env.tg.photo_update(1033, "Hvad betyder dette brev fra kommunen?"))
    sent = wait_for(lambda: _answers(env, 1033))
    assert sent[0]["text"] == "echo: Hvad betyder dette brev fra kommunen?"
    assert env.rasa.received[-1]["message"] == "Hvad betyder dette brev fra kommunen?"
    env.post(env.tg.photo_update(1033))  # a photo alone: what the bot can read
    sent = wait_for(lambda: len(_answers(env, 1033)) == 2 and _answers(env, 1033))
    assert sent[1]["text"] == texts.text("utter_unsupported_media", "da")


def test_a_lone_surrogate_is_stored_and_answered_once_not_503_on_every_redelivery(env):
    update = env.tg.text_update(1034, "hvor kan jeg lære dansk PLACEHOLDER")
    body = httpx.Request("POST", "/", json=update).content.replace(b"PLACEHOLDER", b"\\ud800")
    headers = {"x-telegram-bot-api-secret-token": SECRET, "content-type": "application/json"}
    for _ in range(2):  # and its redelivery
        r = httpx.post(f"{env.url}/webhooks/telegram", content=body, headers=headers)
        assert r.status_code == 200, r.text
    wait_for(lambda: _answers(env, 1034))
    time.sleep(0.5)
    assert [m["text"] for m in _answers(env, 1034)] == ["echo: hvor kan jeg lære dansk \ufffd"]
    assert env.rows(Message.direction == "in")[0].text == "hvor kan jeg lære dansk \ufffd"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_an_update_that_is_not_json_is_refused_with_415(env, content_type):
    headers = {"x-telegram-bot-api-secret-token": SECRET}
    if content_type:
        headers["content-type"] = content_type
    body = httpx.Request("POST", "/", json=env.tg.text_update(1035, "hello")).content
    with httpx.Client(timeout=10) as client:
        r = client.post(f"{env.url}/webhooks/telegram", content=body, headers=headers)
        assert r.status_code == 415
        assert env.rows() == []
        _still_answers(env, client)


def test_danish_terms_are_shown_in_italics_and_everything_else_escaped(env):
    env.rasa.replies = [
        {
            "text": "Gå til *Borgerservice* <i>før</i> kl. 12 & **husk** dit *sundhedskort*; 5*3*2",
            "buttons": [{"title": "Hvad er *CPR*?", "payload": "/ask_question"}],
        }
    ]
    env.post(env.tg.text_update(1036, "sundhedskort?"))
    sent = wait_for(lambda: _answers(env, 1036))[0]
    assert sent["parse_mode"] == "HTML"
    assert sent["text"] == (
        "Gå til <i>Borgerservice</i> &lt;i&gt;før&lt;/i&gt; kl. 12 &amp; <b>husk</b> dit "
        "<i>sundhedskort</i>; 5*3*2"
    )
    assert sent["reply_markup"]["inline_keyboard"][0][0]["text"] == "Hvad er CPR?"


def test_deleting_her_data_with_the_yes_button_is_confirmed_in_her_chat(env):
    env.rasa.replies = [
        {
            "text": "Do you want me to delete everything?",
            "buttons": [{"title": "Yes, delete", "payload": "/affirm"}],
        }
    ]
    env.post(env.tg.text_update(1037, "/delete"))
    asked = wait_for(lambda: _answers(env, 1037))[0]
    data = asked["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    wait_for(lambda: [m for m in env.rows(Message.direction == "out") if m.status == "sent"])
    env.rasa.replies = [
        {"text": texts.text("utter_deleted", "en")},
        {"custom": {"directive": {"kind": "erase"}}},
    ]
    press = env.tg.callback_update(1037, data, on_message_id=asked["message_id"])
    assert env.post(press).status_code == 200
    assert env.rasa.received[-1]["message"] == "/affirm"
    deleted = texts.text("utter_deleted", "en")
    wait_for(lambda: [m for m in env.tg.chat(1037) if m["text"] == deleted], what="confirmed")
    assert env.rows() == [], "her messages are erased"
    time.sleep(0.3)
    assert [m["text"] for m in env.tg.chat(1037)].count(deleted) == 1, "sent once"


def test_an_oversized_update_sent_without_a_length_is_stopped_at_the_limit(env):
    def chunks():  # chunked transfer: no Content-Length to refuse up front
        yield b'{"update_id": 7, "message": {"text": "'
        for _ in range(20):
            yield b"x" * 65536

    headers = {"x-telegram-bot-api-secret-token": SECRET, "content-type": "application/json"}
    with httpx.Client(timeout=10) as client:
        r = client.post(f"{env.url}/webhooks/telegram", content=chunks(), headers=headers)
        assert r.status_code == 413 and "error" in r.json()
        _still_answers(env, client)
    assert env.rasa.received[-1]["message"] == "hvor lærer jeg dansk"


@pytest.fixture
def env_with_notice(sqlite_url):
    yield from _env(sqlite_url, privacy_notice=True)


def test_telegram_privacy_notice_follows_her_first_answer_once(env_with_notice):
    env = env_with_notice
    env.post(env.tg.text_update(1090, "مرحبا، عندي سؤال عن الطبيب"))
    first = wait_for(lambda: len(env.tg.chat(1090)) == 2 and env.tg.chat(1090))
    notice = texts.text("utter_privacy_notice", "ar", days="30")
    assert [html.unescape(m["text"]) for m in first] == [
        "echo: مرحبا، عندي سؤال عن الطبيب",
        notice,
    ]
    env.post(env.tg.text_update(1090, "وأين أجد طبيبا؟"))
    later = wait_for(lambda: len(env.tg.chat(1090)) == 3 and env.tg.chat(1090))
    assert html.unescape(later[2]["text"]) == "echo: وأين أجد طبيبا؟", "the notice is given once"
