"""The gateway over real HTTP, with a scripted Rasa and action server on loopback.

These pin the guarantees a woman depends on when parts of the stack fail: the danger reply
comes first whatever else happens, nothing she writes is lost while Rasa is down, a
redelivered message is not processed twice, her own messages stay in order, erasure erases.
The real Rasa server is exercised in tests/e2e.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.settings import Settings
from bot.storage.models import Contact, Message, utcnow
from common import texts
from gateway.app import create_app
from tests.support.fake_rasa import FakeActions, FakeRasa
from tests.support.servers import serve


@pytest.fixture
def fakes():
    rasa, actions = FakeRasa(), FakeActions()
    with serve(rasa.app) as rasa_url, serve(actions.app) as action_url:
        yield rasa, rasa_url, actions, action_url


def _gateway(fakes, database_url):
    rasa, rasa_url, actions, action_url = fakes
    settings = Settings(
        hash_key="test-key",
        database_url=database_url,
        rasa_url=rasa_url,
        action_server_url=action_url,
        rasa_timeout_s=5,
    )
    return serve(create_app(settings))


@pytest.fixture
def gateway(fakes, sqlite_url):
    with _gateway(fakes, sqlite_url) as url:
        yield url, fakes[0], fakes[2], sqlite_url


def post(url, sender, message, **metadata):
    return httpx.post(
        f"{url}/webhooks/rest/webhook",
        timeout=10,
        json={"sender": sender, "message": message, "metadata": metadata},
    )


def count(database_url, model, *where):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        n = conn.scalar(select(func.count()).select_from(model).where(*where))
    engine.dispose()
    return n


def test_rest_channel_answers_in_rasas_format_with_detected_language(gateway):
    url, rasa, _, _ = gateway
    r = post(url, "amina", "أين أحصل على بطاقة صحية؟")
    assert r.status_code == 200
    assert r.json() == [{"recipient_id": "amina", "text": "echo: أين أحصل على بطاقة صحية؟"}]
    sent = rasa.received[-1]
    assert sent["metadata"]["language"] == "ar"
    assert "screening" not in sent["metadata"]
    assert sent["sender"] != "amina", "Rasa sees a random conversation key, not her id"


def test_danger_gets_emergency_numbers_first_even_when_rasa_fails(gateway):
    url, rasa, _, _ = gateway
    rasa.mode = "error"
    r = post(url, "s1", "please help me he is going to kill me")
    replies = r.json()
    assert r.status_code == 200
    assert replies[0]["text"] == texts.text("utter_emergency", "en")
    assert "112" in replies[0]["text"] and "1888" in replies[0]["text"]


def test_danger_is_flagged_to_rasa_and_not_repeated(gateway):
    url, rasa, _, _ = gateway
    emergency = texts.text("utter_emergency", "en")
    rasa.replies = [
        {"recipient_id": "x", "text": emergency},
        {"recipient_id": "x", "text": "Do you want to talk to a counsellor?"},
    ]
    replies = post(url, "s2", "he is going to kill me").json()
    assert rasa.received[-1]["metadata"]["screening"] == "danger"
    assert [r["text"] for r in replies] == [emergency, "Do you want to talk to a counsellor?"]


def test_rasa_outage_gives_a_safe_reply_in_her_language_and_keeps_the_message(gateway):
    url, rasa, _, db = gateway
    rasa.mode = "empty"  # what Rasa answers when the action server is down
    replies = post(url, "s3", "Hvor kan jeg lære dansk?").json()
    assert [r["text"] for r in replies] == [texts.text("utter_service_down", "da")]
    assert count(db, Message, Message.direction == "in", Message.status == "pending") == 1


def test_redelivered_message_is_processed_once_and_gets_the_same_answer(gateway):
    url, rasa, _, db = gateway
    first = post(url, "s4", "hello there", message_id="m-1").json()
    second = post(url, "s4", "hello there", message_id="m-1").json()
    assert first == second
    assert len(rasa.received) == 1
    assert count(db, Message, Message.direction == "in") == 1


def test_one_womans_messages_are_handled_one_at_a_time_in_order(gateway):
    url, rasa, _, db = gateway
    rasa.mode = "slow"
    results = {}

    def send(i):
        results[i] = post(url, "s5", f"message {i}", message_id=f"m{i}")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for t in threads:
        t.join()
    assert rasa.max_active == 1, "her messages overlapped in Rasa"
    engine = create_engine(db)
    with engine.connect() as conn:
        stored = conn.scalars(
            select(Message.text).where(Message.direction == "in").order_by(Message.id)
        ).all()
    engine.dispose()
    assert [b["message"] for b in rasa.received] == stored, "processed out of arrival order"


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b'{"message": "hi"}', 400),
        (b'{"sender": "", "message": "hi"}', 400),
        (b'{"sender": "a", "message": 5}', 400),
        (b'{"sender": "a", "message": "' + b"x" * 300_000 + b'"}', 413),
    ],
)
def test_malformed_requests_get_a_clear_error(gateway, body, status):
    url, rasa, _, _ = gateway
    r = httpx.post(
        f"{url}/webhooks/rest/webhook", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == status
    assert r.json()["error"]
    assert rasa.received == []


def test_empty_message_gets_help_and_long_message_is_cut_with_a_notice(gateway):
    url, rasa, _, _ = gateway
    assert post(url, "s6", "   ").json()[0]["text"] == texts.text("utter_help", "en")
    assert rasa.received == []
    long = "Where can I learn Danish? " * 200
    replies = post(url, "s6", long).json()
    assert len(rasa.received[-1]["message"]) == 2000
    assert replies[-1]["text"] == texts.text("utter_message_too_long", "en")


def test_erasure_deletes_her_conversation_here_and_in_rasa(gateway):
    url, rasa, _, db = gateway
    post(url, "s7", "hello")
    assert count(db, Contact) == 1
    rasa.replies = [
        {"recipient_id": "x", "text": texts.text("utter_deleted", "en")},
        {"recipient_id": "x", "custom": {"directive": {"kind": "erase"}}},
    ]
    replies = post(url, "s7", "/affirm").json()
    assert replies == [{"recipient_id": "s7", "text": texts.text("utter_deleted", "en")}]
    assert count(db, Contact) == 0 and count(db, Message) == 0
    assert rasa.replaced == [rasa.received[0]["sender"]]


def test_explicit_language_choice_wins_over_detection(gateway):
    url, rasa, _, _ = gateway
    post(url, "s8", '/choose_language{"language": "so"}')
    post(url, "s8", "Where can I get a health card for my children please")
    assert rasa.received[-1]["metadata"]["language"] == "so"


def test_health_reports_each_component(gateway):
    url, rasa, actions, _ = gateway
    r = httpx.get(f"{url}/health")
    assert r.status_code == 200, r.text
    assert set(r.json()["components"]) == {"rasa", "action_server", "database", "knowledge_index"}
    rasa.model_loaded = False
    r = httpx.get(f"{url}/health")
    assert r.status_code == 503 and not r.json()["components"]["rasa"]["ok"]
    rasa.model_loaded, actions.up = True, False
    body = httpx.get(f"{url}/health").json()
    assert not body["components"]["action_server"]["ok"]
    assert not body["components"]["knowledge_index"]["ok"]


@pytest.mark.postgres
def test_gateway_on_postgresql_migrates_and_keeps_idempotency(fakes, postgres_url):
    rasa = fakes[0]
    with _gateway(fakes, postgres_url) as url:
        assert httpx.get(f"{url}/health").status_code == 200
        first = post(url, "pg1", "hej med dig", message_id="pg-m1").json()
        assert post(url, "pg1", "hej med dig", message_id="pg-m1").json() == first
        assert len(rasa.received) == 1
        assert count(postgres_url, Message, Message.direction == "in") == 1


def test_messages_kept_during_an_outage_are_answered_when_rasa_is_back(gateway):
    url, rasa, _, db = gateway
    rasa.mode = "error"
    post(url, "s9", "what is the citizenship test")
    assert count(db, Message, Message.status == "pending") == 1
    rasa.mode = "ok"
    deadline = time.monotonic() + 15  # the gateway retries every 5 s
    while count(db, Message, Message.status == "pending") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert count(db, Message, Message.status == "pending") == 0
    assert rasa.received[-1]["message"] == "what is the citizenship test"
    assert (
        count(
            db,
            Message,
            Message.direction == "out",
            Message.text == "echo: what is the citizenship test",
        )
        == 1
    )


def test_her_channel_id_is_never_stored(gateway):
    url, _, _, db = gateway
    post(url, "+4512345678", "hej")
    path = Path(db.split("///", 1)[1])
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))  # db, -wal
    assert b"+4512345678" not in raw and b"4512345678" not in raw
    assert count(db, Contact) == 1


def test_a_first_message_in_no_known_language_gets_the_language_menu(gateway):
    url, rasa, _, _ = gateway
    replies = post(url, "s10", "👋👋").json()
    assert replies[0]["text"] == texts.text("utter_ask_language", None)
    assert len(replies[0]["buttons"]) == 9
    assert rasa.received == []
    post(url, "s10", '/choose_language{"language": "ti"}')
    assert rasa.received[-1]["metadata"]["language"] == "ti"


def test_action_server_outage_is_caught_even_when_rasa_answers(gateway):
    url, rasa, actions, db = gateway
    actions.up = False
    replies = post(url, "s11", "Hvor kan jeg lære dansk?").json()
    assert replies[-1]["text"] == texts.text("utter_service_down", "da")
    assert count(db, Message, Message.direction == "in", Message.status == "pending") == 1


def test_database_failure_still_gives_emergency_numbers_first(gateway):
    url, rasa, _, db = gateway
    engine = create_engine(db)
    with engine.begin() as conn:  # the database breaks under the running gateway
        conn.exec_driver_sql("DROP TABLE messages")
    engine.dispose()
    r = post(url, "s12", "hjælp min mand slår mig")
    assert r.status_code == 200
    replies = r.json()
    assert replies[0]["text"] == texts.text("utter_emergency", "da")
    assert replies[-1]["text"] == texts.text("utter_service_down", "da")


def test_a_failed_action_is_an_outage_not_a_half_answer(gateway):
    url, rasa, _, db = gateway
    rasa.replies = [
        {"recipient_id": "x", "text": texts.text("utter_welcome", "en")},
        {"recipient_id": "x", "custom": {"directive": {"kind": "action_failed"}}},
    ]
    replies = post(url, "s13", "what is the citizenship test").json()
    assert replies[-1]["text"] == texts.text("utter_service_down", "en")
    assert count(db, Message, Message.direction == "in", Message.status == "pending") == 1


# -- handoff to a person, feedback, the bot's silence while a counsellor holds her case -------


def _handoff(priority="normal"):
    return [
        {
            "recipient_id": "x",
            "custom": {
                "directive": {
                    "kind": "handoff",
                    "topic": "violence",
                    "language": "ar",
                    "priority": priority,
                    "woman_counsellor": True,
                    "contact_later": False,
                }
            },
        }
    ]


def _cases(database_url):
    from bot.referrals import Case

    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Case.id,
                Case.status,
                Case.priority,
                Case.language,
                Case.topic,
                Case.woman_counsellor,
            )
        ).all()
    engine.dispose()
    return rows


def _counsellor_online(database_url, languages="ar,en"):
    from datetime import timedelta

    from bot.referrals.models import User, UserSession

    engine = create_engine(database_url)
    with Session(engine) as s:
        user = User(
            username=f"c-{languages}", password_hash="x", languages=languages, is_woman=True
        )
        s.add(user)
        s.flush()
        s.add(
            UserSession(
                token_hash=f"t-{user.id}",
                user_id=user.id,
                csrf_token="c",
                expires_at=utcnow() + timedelta(hours=1),
            )
        )
        s.commit()
    engine.dispose()


def test_with_nobody_logged_in_she_is_told_so_honestly(gateway):
    url, rasa, _, db = gateway
    post(url, "h0", "hello")
    rasa.replies = _handoff()
    replies = post(url, "h0", "I want a person").json()
    assert [r["text"] for r in replies] == [texts.text("utter_handoff_nobody", "en")]
    assert "112" in replies[0]["text"] and "1888" in replies[0]["text"]
    assert len(_cases(db)) == 1, "her case waits all the same"


def test_a_handoff_request_creates_one_case_and_tells_her_honestly_where_she_is(gateway):
    url, rasa, _, db = gateway
    _counsellor_online(db)
    post(url, "h1", "مرحبا")
    rasa.replies = _handoff()
    replies = post(url, "h1", "أريد التحدث مع شخص").json()
    cases = _cases(db)
    assert len(cases) == 1
    assert (cases[0].status, cases[0].language, cases[0].topic, cases[0].woman_counsellor) == (
        "waiting",
        "ar",
        "violence",
        True,
    )
    expected = texts.text("utter_handoff_queued", "ar").replace("{waiting}", "0")
    assert [r["text"] for r in replies] == [expected]

    again = post(url, "h1", "أريد التحدث مع شخص").json()
    assert len(_cases(db)) == 1, "a second request must not open a second case"
    assert [r["text"] for r in again] == [texts.text("utter_handoff_already", "ar")]


def test_out_of_hours_she_is_told_when_someone_answers(gateway):
    from datetime import time as clock

    from bot.referrals.models import OpeningHours

    url, rasa, _, db = gateway
    engine = create_engine(db)
    with Session(engine) as s:  # open one minute a week, not now
        s.add(
            OpeningHours(
                weekday=(utcnow().weekday() + 3) % 7, opens=clock(9, 0), closes=clock(9, 1)
            )
        )
        s.commit()
    engine.dispose()
    post(url, "h2", "hello")
    rasa.replies = _handoff()
    replies = post(url, "h2", "I want to talk to a person").json()
    text = replies[0]["text"]
    assert "{opens}" not in text and "09:00" in text
    assert text.startswith(texts.text("utter_handoff_closed", "en").split("{")[0])


def test_while_a_counsellor_holds_her_case_the_bot_is_silent_but_never_on_danger(gateway):
    from bot.referrals import EMERGENCY, Case

    url, rasa, _, db = gateway
    post(url, "h3", "hello")
    rasa.replies = _handoff()
    post(url, "h3", "I want a person")
    engine = create_engine(db)
    with engine.begin() as conn:  # a counsellor has claimed it
        conn.execute(Case.__table__.update().values(status="active"))
    engine.dispose()
    asked = len(rasa.received)
    assert post(url, "h3", "are you there? my husband took my papers").json() == []
    assert len(rasa.received) == asked, "the bot must not answer while a person does"
    assert count(db, Message, Message.text == "are you there? my husband took my papers") == 1

    replies = post(url, "h3", "he is going to kill me").json()
    assert [r["text"] for r in replies] == [texts.text("utter_emergency", "en")]
    assert len(rasa.received) == asked
    assert _cases(db)[0].priority == EMERGENCY, "the case becomes an emergency"


def test_feedback_is_stored_without_any_link_to_her(gateway):
    from bot.storage.models import Feedback

    url, rasa, _, db = gateway
    rasa.replies = [
        {
            "recipient_id": "x",
            "text": "Thank you!",
            "custom": {
                "directive": {"kind": "feedback", "entry_id": "health.gp", "helpful": False}
            },
        }
    ]
    post(url, "h4", "not helpful")
    engine = create_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(select(Feedback.entry_id, Feedback.helpful, Feedback.language)).all()
        columns = {c.name for c in Feedback.__table__.columns}
    engine.dispose()
    assert [tuple(r) for r in rows] == [("health.gp", False, "en")]
    assert not columns & {"contact_id", "user_hash", "conversation_key"}


def test_rest_clients_fetch_a_late_answer_once(gateway):
    url, rasa, _, db = gateway
    rasa.mode = "error"
    post(url, "late-1", "Hvor kan jeg lære dansk?")
    assert httpx.get(f"{url}/webhooks/rest/outbox", params={"sender": "late-1"}).json() == []
    rasa.mode = "ok"
    deadline = time.monotonic() + 15  # the retry worker runs every 5 s
    fetched = []
    while not fetched and time.monotonic() < deadline:
        time.sleep(0.5)
        fetched = httpx.get(f"{url}/webhooks/rest/outbox", params={"sender": "late-1"}).json()
    assert fetched == [{"recipient_id": "late-1", "text": "echo: Hvor kan jeg lære dansk?"}]
    assert httpx.get(f"{url}/webhooks/rest/outbox", params={"sender": "late-1"}).json() == []
    assert httpx.get(f"{url}/webhooks/rest/outbox", params={"sender": "other"}).json() == []
    assert httpx.get(f"{url}/webhooks/rest/outbox").status_code == 400
