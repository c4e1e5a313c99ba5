"""The counsellor workspace over real HTTP on loopback (the gateway app, SQLite file, and the
main flow also on PostgreSQL), and the JSON API with bearer tokens.

What the woman depends on: a counsellor's reply is queued for her own chat, notes never
reach her, her number stays hidden unless she agreed, the bot tells her when it is back,
erasing her data erases her case. What the NGO depends on: only logged-in staff with the
right role get in, forms cannot be forged from elsewhere, sessions end, and the audit log
says who opened which case.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import outbox
from bot.referrals import create_case, holding_case
from bot.referrals.models import ApiToken, AuditLog, Case, CaseNote, OpeningHours, User, UserSession
from bot.settings import Settings
from bot.storage.db import make_engine, migrate
from bot.storage.models import Contact, Message
from bot.workspace import auth
from bot.workspace import cases as ws_cases
from common import texts
from gateway.app import create_app
from tests.support.servers import serve

HASH_KEY = "test-key"
PASSWORD = "a long password"
ADDRESS = "+4512345678"


class FakeRasa:
    """Enough of Rasa's REST channel for erasure: replies are scripted per test."""

    def __init__(self):
        self.replies: list[dict] = []
        self.app = FastAPI()

        @self.app.post("/webhooks/rest/webhook")
        async def webhook(request: Request):
            body = await request.json()
            return self.replies or [{"recipient_id": body["sender"], "text": "ok"}]

        @self.app.put("/conversations/{sender}/tracker/events")
        async def replace(sender: str):
            return {}

        @self.app.get("/status")
        async def status():
            return {"model_file": "bot.tar.gz"}

        @self.app.get("/health")
        async def health():
            return {"status": "ok"}


@pytest.fixture
def fake_rasa():
    rasa = FakeRasa()
    with serve(rasa.app) as url:
        yield rasa, url


def _start(database_url, rasa_url):
    migrate(database_url)
    settings = Settings(
        hash_key=HASH_KEY,
        database_url=database_url,
        rasa_url=rasa_url,
        action_server_url=rasa_url,
        rasa_timeout_s=5,
    )
    return serve(create_app(settings))


class World:
    def __init__(self, url: str, database_url: str, rasa: FakeRasa):
        self.url, self.database_url, self.rasa = url, database_url, rasa
        self.engine = make_engine(database_url)

    def db(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def user(self, name, role="counsellor", languages="ar", woman=True) -> int:
        with self.db() as db:
            u = auth.create_user(db, name, PASSWORD, role=role, languages=languages, is_woman=woman)
            db.commit()
            return u.id

    def case(self, language="ar", channel="telegram", priority="normal", woman=None) -> int:
        with self.db() as db:
            c = Contact(
                channel=channel,
                user_hash=f"hash-{datetime.now().timestamp()}",
                language=language,
                address_enc=outbox.seal_address(ADDRESS, HASH_KEY),
            )
            db.add(c)
            db.flush()
            db.add(
                Message(
                    contact_id=c.id, direction="in", text="أريد التحدث مع شخص", language=language
                )
            )
            r = create_case(
                db,
                c,
                topic="violence",
                language=language,
                priority=priority,
                woman_counsellor=woman,
                contact_later=False,
            )
            db.commit()
            return r.case_id

    def get(self, model, ident):
        with self.db() as db:
            return db.get(model, ident)

    def count(self, model, *where) -> int:
        with self.db() as db:
            return db.scalar(select(func.count()).select_from(model).where(*where))

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, follow_redirects=False)

    def login(self, name, password=PASSWORD) -> tuple[httpx.Client, str]:
        client = self.browser()
        r = client.post(
            "/workspace/login",
            data={"username": name, "password": password, "csrf": login_csrf(client)},
        )
        assert r.status_code == 303, r.text
        page = client.get("/workspace/queue")
        return client, csrf_of(page.text)


@pytest.fixture
def world(fake_rasa, sqlite_url):
    rasa, rasa_url = fake_rasa
    with _start(sqlite_url, rasa_url) as url:
        w = World(url, sqlite_url, rasa)
        yield w
        w.engine.dispose()


def login_csrf(client: httpx.Client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/workspace/login").text).group(1)


def csrf_of(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


# -- login, sessions, roles -----------------------------------------------------------------------
def test_login_sets_a_strict_httponly_session_and_a_wrong_password_gets_nothing(world):
    world.user("amal")
    client = world.browser()
    bad = client.post(
        "/workspace/login",
        data={"username": "amal", "password": "wrong one!!", "csrf": login_csrf(client)},
    )
    assert bad.status_code == 401 and "not right" in bad.text
    assert "ws_session" not in client.cookies
    assert client.get("/workspace/queue").status_code == 303
    ok = client.post(
        "/workspace/login",
        data={"username": "Amal", "password": PASSWORD, "csrf": login_csrf(client)},
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/workspace/queue"
    cookie = next(
        v for k, v in ok.headers.multi_items() if k == "set-cookie" and v.startswith("ws_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = client.get("/workspace/queue")
    assert page.status_code == 200 and "Queue" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    with world.db() as db:
        tokens = db.scalars(select(UserSession.token_hash)).all()
    assert client.cookies["ws_session"] not in tokens, "only a hash of the session is stored"


def test_no_session_is_sent_to_login_and_json_gets_401(world):
    client = world.browser()
    r = client.get("/workspace/queue")
    assert r.status_code == 303 and r.headers["location"].startswith("/workspace/login")
    assert client.get("/workspace/queue.json").status_code == 401
    assert client.get("/workspace/cases/1").status_code == 303
    assert client.post("/workspace/claim-next", data={"csrf": "x"}).status_code == 303


def test_repeated_wrong_passwords_lock_the_login_for_a_while(world):
    world.user("amal")
    client = world.browser()
    codes = [
        client.post(
            "/workspace/login",
            data={"username": "amal", "password": f"guess {i}", "csrf": login_csrf(client)},
        ).status_code
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]
    r = client.post(
        "/workspace/login",
        data={"username": "amal", "password": PASSWORD, "csrf": login_csrf(client)},
    )
    assert r.status_code == 429, "even the right password waits out the lock"


def test_a_counsellor_cannot_open_admin_pages_and_an_editor_cannot_see_cases(world):
    world.user("amal")
    world.user("eddie", role="editor")
    case_id = world.case()
    client, csrf = world.login("amal")
    assert client.get("/workspace/admin").status_code == 403
    r = client.post(
        "/workspace/admin/users",
        data={"csrf": csrf, "username": "evil", "password": PASSWORD, "role": "admin"},
    )
    assert r.status_code == 403
    assert world.count(User, User.username == "evil") == 0
    editor = world.browser()
    editor.post(
        "/workspace/login",
        data={"username": "eddie", "password": PASSWORD, "csrf": login_csrf(editor)},
    )
    assert editor.get(f"/workspace/cases/{case_id}").status_code == 403
    assert editor.get("/workspace/queue.json").status_code == 403
    assert editor.get("/workspace/canned").status_code == 200


def test_a_post_without_the_sessions_csrf_token_is_refused(world):
    world.user("amal")
    case_id = world.case()
    client, csrf = world.login("amal")
    for token in ("", "forged"):
        r = client.post(f"/workspace/cases/{case_id}/claim", data={"csrf": token})
        assert r.status_code == 403 and "expired" in r.text
    assert world.get(Case, case_id).status == "waiting"
    other, _ = world.login("amal")  # another session's token is not this session's
    r = other.post(f"/workspace/cases/{case_id}/claim", data={"csrf": csrf})
    assert r.status_code == 403
    fresh = world.browser()
    r = fresh.post("/workspace/login", data={"username": "amal", "password": PASSWORD})
    assert r.status_code == 403, "the login form needs its own token too"


def test_an_expired_session_is_refused_and_removed(world):
    world.user("amal")
    client, _ = world.login("amal")
    with world.db() as db:
        for row in db.scalars(select(UserSession)):
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.commit()
    r = client.get("/workspace/queue")
    assert r.status_code == 303 and r.headers["location"] == "/workspace/login?done=expired"
    assert world.count(UserSession) == 0


def test_automatic_polling_does_not_keep_an_unattended_screen_logged_in(world):
    world.user("amal")
    client, _ = world.login("amal")
    with world.db() as db:
        before = db.scalar(select(UserSession.expires_at))
    for _ in range(3):
        assert client.get("/workspace/queue.json").status_code == 200
    with world.db() as db:
        assert db.scalar(select(UserSession.expires_at)) == before
    client.get("/workspace/queue")  # a person clicking does
    with world.db() as db:
        assert db.scalar(select(UserSession.expires_at)) > before


def test_logout_ends_the_session(world):
    world.user("amal")
    client, csrf = world.login("amal")
    assert client.post("/workspace/logout", data={"csrf": csrf}).status_code == 303
    assert world.count(UserSession) == 0
    assert client.get("/workspace/queue").status_code == 303


# -- the counsellor's work ------------------------------------------------------------------------
def _flow(world):
    world.user("amal", languages="ar,en")
    world.user("hodan", languages="so")
    case_id = world.case("ar")
    somali, _ = world.login("hodan")
    assert case_id not in [c["id"] for c in somali.get("/workspace/queue.json").json()["cases"]]
    assert somali.get(f"/workspace/cases/{case_id}").status_code == 404

    client, csrf = world.login("amal")
    queue = client.get("/workspace/queue.json").json()
    assert [c["id"] for c in queue["cases"]] == [case_id] and queue["waiting"] == 1
    assert queue["cases"][0]["language"] == "ar"

    assert client.post(f"/workspace/cases/{case_id}/claim", data={"csrf": csrf}).status_code == 303
    page = client.get(f"/workspace/cases/{case_id}")
    assert page.status_code == 200
    assert "أريد التحدث مع شخص" in page.text, "her message is in the transcript"
    assert ADDRESS not in page.text, "her number is hidden without her consent"
    with world.db() as db:
        assert holding_case(db, world.get(Case, case_id).contact_id) is not None

    r = client.post(
        f"/workspace/cases/{case_id}/reply",
        data={"csrf": csrf, "text": "مرحبا، أنا أمل. كيف يمكنني مساعدتك؟"},
    )
    assert r.status_code == 303
    r = client.post(
        f"/workspace/cases/{case_id}/note", data={"csrf": csrf, "text": "asked about krisecenter"}
    )
    assert r.status_code == 303
    contact_id = world.get(Case, case_id).contact_id
    with world.db() as db:
        out = db.scalars(
            select(Message).where(Message.contact_id == contact_id, Message.direction == "out")
        ).all()
    assert [(m.kind, m.status, m.language, m.text) for m in out] == [
        ("counsellor", "queued", "ar", "مرحبا، أنا أمل. كيف يمكنني مساعدتك؟")
    ]
    assert world.count(CaseNote, CaseNote.case_id == case_id) == 1
    case = world.get(Case, case_id)
    assert case.status == "active" and case.first_reply_at is not None

    r = client.post(
        f"/workspace/cases/{case_id}/resolve",
        data={"csrf": csrf, "outcome": "referred", "referred_service": "Lev Uden Vold"},
    )
    assert r.status_code == 303
    case = world.get(Case, case_id)
    assert (case.status, case.outcome, case.referred_service) == (
        "resolved",
        "referred",
        "Lev Uden Vold",
    )
    with world.db() as db:
        last = db.scalars(
            select(Message).where(Message.contact_id == contact_id).order_by(Message.id.desc())
        ).first()
        assert holding_case(db, contact_id) is None, "the bot answers her again"
    assert (last.kind, last.status) == ("notice", "queued")
    assert last.text == ws_cases.resolved_text("ar") and last.text.strip()
    with world.db() as db:
        actions = db.execute(
            select(AuditLog.username, AuditLog.action, AuditLog.case_id)
            .where(AuditLog.case_id == case_id)
            .order_by(AuditLog.id)
        ).all()
    assert [tuple(a) for a in actions] == [
        ("amal", "claim", case_id),
        ("amal", "open", case_id),
        ("amal", "reply", case_id),
        ("amal", "note", case_id),
        ("amal", "resolve", case_id),
    ]


def test_claim_reply_note_resolve_through_the_pages(world):
    _flow(world)


def test_claim_reply_note_resolve_through_the_pages_on_postgresql(fake_rasa, postgres_url):
    rasa, rasa_url = fake_rasa
    with _start(postgres_url, rasa_url) as url:
        w = World(url, postgres_url, rasa)
        try:
            _flow(w)
        finally:
            w.engine.dispose()


def test_the_queue_shows_when_she_waits_for_her_counsellors_answer(world):
    world.user("amal")
    case_id = world.case()
    client, csrf = world.login("amal")
    client.post(f"/workspace/cases/{case_id}/claim", data={"csrf": csrf})

    def row():
        return client.get("/workspace/queue.json").json()["cases"][0]

    assert row()["unanswered_minutes"] == 0, "her request is not answered yet"
    client.post(f"/workspace/cases/{case_id}/reply", data={"csrf": csrf, "text": "Hello"})
    assert row()["unanswered_minutes"] is None
    with world.db() as db:
        db.add(
            Message(
                contact_id=world.get(Case, case_id).contact_id,
                direction="in",
                text="are you there?",
                created_at=datetime.now(UTC) - timedelta(minutes=12),
            )
        )
        db.commit()
    assert row()["unanswered_minutes"] == 12
    assert "she waits for an answer: 12 min" in client.get("/workspace/queue").text


def test_a_reply_to_a_case_held_by_a_colleague_is_refused(world):
    world.user("amal")
    world.user("huda")
    case_id = world.case()
    amal, csrf_a = world.login("amal")
    huda, csrf_h = world.login("huda")
    amal.post(f"/workspace/cases/{case_id}/claim", data={"csrf": csrf_a})
    r = huda.post(f"/workspace/cases/{case_id}/claim", data={"csrf": csrf_h})
    assert r.status_code == 409 and "taken by a colleague" in r.text
    r = huda.post(f"/workspace/cases/{case_id}/reply", data={"csrf": csrf_h, "text": "hi"})
    assert r.status_code == 404
    assert world.count(Message, Message.kind == "counsellor") == 0


def test_her_number_is_shown_only_after_her_consent_and_each_look_is_audited(world):
    world.user("amal")
    case_id = world.case()
    client, csrf = world.login("amal")
    client.post(f"/workspace/cases/{case_id}/claim", data={"csrf": csrf})
    assert ADDRESS not in client.get(f"/workspace/cases/{case_id}").text
    client.post(f"/workspace/cases/{case_id}/consent", data={"csrf": csrf, "consent": "yes"})
    assert ADDRESS in client.get(f"/workspace/cases/{case_id}").text
    assert world.count(AuditLog, AuditLog.action == "reveal_identifier") == 1
    client.post(f"/workspace/cases/{case_id}/consent", data={"csrf": csrf, "consent": "no"})
    assert ADDRESS not in client.get(f"/workspace/cases/{case_id}").text


def test_her_words_are_shown_as_text_never_as_markup(world):
    world.user("amal")
    case_id = world.case()
    with world.db() as db:
        db.add(
            Message(
                contact_id=world.get(Case, case_id).contact_id,
                direction="in",
                text='<img src=x onerror="alert(1)"><script>alert(2)</script>',
            )
        )
        db.commit()
    client, _ = world.login("amal")
    page = client.get(f"/workspace/cases/{case_id}").text
    assert "<script>alert(2)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_deactivating_a_counsellor_puts_her_cases_back_in_the_queue(world):
    world.user("root", role="admin")
    amal = world.user("amal")
    case_id = world.case()
    client, csrf = world.login("amal")
    client.post(f"/workspace/cases/{case_id}/claim", data={"csrf": csrf})
    admin, admin_csrf = world.login("root")
    r = admin.post(
        f"/workspace/admin/users/{amal}",
        data={"csrf": admin_csrf, "role": "counsellor", "lang_ar": "1"},
    )
    assert r.status_code == 303
    case = world.get(Case, case_id)
    assert (case.status, case.assigned_to) == ("waiting", None)
    assert client.get("/workspace/queue").status_code == 303, "her session ended too"


def test_the_chores_release_idle_claims_and_escalate_long_waits(world):
    from bot.workspace import chores

    world.user("amal")
    old, claimed = world.case(), world.case()
    client, csrf = world.login("amal")
    client.post(f"/workspace/cases/{claimed}/claim", data={"csrf": csrf})
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    with world.db() as db:
        db.get(Case, old).waiting_since = long_ago
        db.get(Case, claimed).assigned_at = long_ago
        db.commit()
    done = chores(world.engine)
    assert done["released"] == [claimed] and old in done["escalated"]
    assert world.get(Case, claimed).status == "waiting"
    assert world.get(Case, old).escalated_at is not None
    assert world.count(AuditLog, AuditLog.action == "auto_release") == 1


def test_canned_replies_in_her_language_are_offered_in_the_reply_box(world):
    world.user("amal", role="admin")
    case_id = world.case("ar")
    client, csrf = world.login("amal")
    for lang, title, text in (("ar", "Greeting", "مرحبا"), ("so", "Salaan", "Soo dhawoow")):
        r = client.post(
            "/workspace/canned", data={"csrf": csrf, "language": lang, "title": title, "text": text}
        )
        assert r.status_code == 303
    client.post(f"/workspace/cases/{case_id}/claim", data={"csrf": csrf})
    page = client.get(f"/workspace/cases/{case_id}").text
    assert 'value="مرحبا"' in page and "Soo dhawoow" not in page


def test_transfer_to_another_language_moves_it_to_that_queue(world):
    world.user("amal")
    world.user("parisa", languages="fa")
    case_id = world.case("ar")
    client, csrf = world.login("amal")
    client.post(f"/workspace/cases/{case_id}/claim", data={"csrf": csrf})
    r = client.post(
        f"/workspace/cases/{case_id}/transfer",
        data={"csrf": csrf, "to_user": "", "to_language": "fa", "reason": "she reads Farsi"},
    )
    assert r.status_code == 303
    farsi, _ = world.login("parisa")
    assert [c["id"] for c in farsi.get("/workspace/queue.json").json()["cases"]] == [case_id]
    case = farsi.get(f"/workspace/cases/{case_id}").text
    assert "write to her in Farsi" in case  # and her language stays Arabic
    assert "Transferred to the Farsi queue: she reads Farsi" in case  # the note
    with world.db() as db:
        told = db.scalars(
            select(Message.text).where(Message.direction == "out", Message.kind == "notice")
        ).all()
    assert texts.text("utter_handoff_transferred", "ar") in told  # in her language


def test_a_colleague_who_cannot_read_her_is_offered_disabled_with_the_reason(world):
    world.user("amal")
    world.user("sahra", languages="so,en")
    case_id = world.case("ar")
    client, csrf = world.login("amal")
    client.post(f"/workspace/cases/{case_id}/claim", data={"csrf": csrf})
    page = client.get(f"/workspace/cases/{case_id}").text
    assert re.search(
        r'<option value="\d+" disabled>sahra \(so,en, woman\): does not write Arabic', page
    )
    with world.db() as db:
        sahra_id = db.scalar(select(User.id).where(User.username == "sahra"))
    r = client.post(
        f"/workspace/cases/{case_id}/transfer", data={"csrf": csrf, "to_user": str(sahra_id)}
    )
    assert r.status_code == 409, r.text  # refused; the case stays hers
    assert "does not write Arabic" in r.text


def test_admin_manages_counsellors_and_opening_hours(world):
    world.user("root", role="admin")
    client, csrf = world.login("root")
    r = client.post(
        "/workspace/admin/users",
        data={
            "csrf": csrf,
            "username": "sahra",
            "password": PASSWORD,
            "role": "counsellor",
            "lang_so": "1",
            "lang_en": "1",
            "topic_violence": "1",
            "is_woman": "yes",
        },
    )
    assert r.status_code == 303
    with world.db() as db:
        sahra = db.scalar(select(User).where(User.username == "sahra"))
    assert (sahra.languages, sahra.topics, sahra.is_woman) == ("en,so", "violence", True)
    r = client.post(
        f"/workspace/admin/users/{sahra.id}",
        data={"csrf": csrf, "role": "counsellor", "lang_ti": "1", "active": ""},
    )
    assert r.status_code == 303
    sahra = world.get(User, sahra.id)
    assert (sahra.languages, sahra.active) == ("ti", False)
    r = client.post(
        "/workspace/admin/hours", data={"csrf": csrf, "opens_0": "09:00", "closes_0": "16:00"}
    )
    assert r.status_code == 303
    assert world.count(OpeningHours, OpeningHours.weekday == 0) == 1
    r = client.post("/workspace/admin/hours", data={"csrf": csrf, "opens_1": "9"})
    assert r.status_code == 400 and "Tuesday" in r.text
    page = client.get("/workspace/admin").text
    assert "sahra" in page and 'value="09:00"' in page
    # the new account can log in only while active
    c = world.browser()
    r = c.post(
        "/workspace/login", data={"username": "sahra", "password": PASSWORD, "csrf": login_csrf(c)}
    )
    assert r.status_code == 401


def test_erasing_her_data_in_the_chat_removes_her_case_from_the_workspace(world):
    world.user("amal")
    r = httpx.post(
        f"{world.url}/webhooks/rest/webhook",
        json={"sender": "fatima", "message": "hello"},
        timeout=10,
    )
    assert r.status_code == 200
    with world.db() as db:
        contact = db.scalar(select(Contact).where(Contact.channel == "rest"))
        case_id = create_case(
            db,
            contact,
            topic="health",
            language="en",
            priority="normal",
            woman_counsellor=None,
            contact_later=False,
        ).case_id
        db.commit()
    world.rasa.replies = [
        {"recipient_id": "x", "custom": {"directive": {"kind": "erase"}}},
        {"recipient_id": "x", "text": "Deleted."},
    ]
    httpx.post(
        f"{world.url}/webhooks/rest/webhook",
        json={"sender": "fatima", "message": "delete my data"},
        timeout=10,
    )
    assert world.get(Case, case_id) is None
    client, _ = world.login("amal")
    assert client.get(f"/workspace/cases/{case_id}").status_code == 404


# -- JSON API -------------------------------------------------------------------------------------
def _token(world, name) -> str:
    with world.db() as db:
        token = auth.create_token(db, db.scalar(select(User).where(User.username == name)))
        db.commit()
    return token


def test_api_refuses_without_a_valid_token(world):
    world.user("amal")
    token = _token(world, "amal")
    api = httpx.Client(base_url=world.url, timeout=10)
    assert api.get("/api/v1/queue").status_code == 401
    assert api.get("/api/v1/queue", headers={"Authorization": "Bearer wsk_nope"}).status_code == 401
    assert api.get("/api/v1/queue", headers={"Authorization": token}).status_code == 401
    assert api.get("/api/v1/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with world.db() as db:
        for row in db.scalars(select(ApiToken)):
            row.revoked = True
        db.commit()
    assert api.get("/api/v1/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    client, _ = world.login("amal")
    assert client.get("/api/v1/queue").status_code == 401, "a browser session is not a token"


def test_api_claim_read_reply_note_transfer_resolve(world):
    world.user("amal", languages="ar")
    world.user("huda", languages="ar")
    first, second = world.case("ar", priority="normal"), world.case("ar", priority="emergency")
    api = httpx.Client(
        base_url=world.url, timeout=10, headers={"Authorization": f"Bearer {_token(world, 'amal')}"}
    )
    queue = api.get("/api/v1/queue", params={"language": "ar"}).json()["cases"]
    assert [c["id"] for c in queue] == [second, first], "emergency first"
    claimed = api.post("/api/v1/queue/claim").json()
    assert claimed["id"] == second and claimed["status"] == "assigned"
    assert api.post(f"/api/v1/cases/{first}/claim").json()["id"] == first
    assert api.post(f"/api/v1/cases/{first}/claim").status_code == 409

    detail = api.get(f"/api/v1/cases/{second}").json()
    assert detail["transcript"][0]["text"] == "أريد التحدث مع شخص"
    assert detail["identifier"] is None
    r = api.post(f"/api/v1/cases/{second}/reply", json={"text": "Hello, I am Amal."})
    assert r.status_code == 201 and r.json()["status"] == "queued"
    assert api.post(f"/api/v1/cases/{second}/reply", json={"text": ""}).status_code == 422
    r = api.post(f"/api/v1/cases/{second}/notes", json={"text": "call Tuesday"})
    assert r.status_code == 201
    detail = api.get(f"/api/v1/cases/{second}").json()
    assert [n["text"] for n in detail["notes"]] == ["call Tuesday"]
    assert [m["kind"] for m in detail["transcript"]] == ["text", "counsellor"], (
        "the note is not in her transcript"
    )

    r = api.post(f"/api/v1/cases/{first}/transfer", json={"to_user": "huda"})
    assert r.status_code == 200 and world.get(Case, first).assigned_to is not None
    assert api.get(f"/api/v1/cases/{first}").status_code == 404, "no longer hers to see"
    r = api.post(f"/api/v1/cases/{second}/resolve", json={"outcome": "referred"})
    assert r.status_code == 409 and "service" in r.json()["error"]
    r = api.post(f"/api/v1/cases/{second}/resolve", json={"outcome": "resolved_here"})
    assert r.json() == {"id": second, "status": "resolved", "outcome": "resolved_here"}
    assert world.count(AuditLog, AuditLog.case_id == second, AuditLog.username == "amal") >= 5


def test_api_docs_are_served(world):
    spec = httpx.get(f"{world.url}/openapi.json", timeout=10).json()
    assert "/api/v1/cases/{case_id}/reply" in spec["paths"]
    assert not any(p.startswith("/workspace") for p in spec["paths"])


def test_admin_creates_a_token_shown_once_and_revokes_it(world):
    root = world.user("root", role="admin", languages="ar")
    client, csrf = world.login("root")
    page = client.post(
        "/workspace/admin/tokens", data={"csrf": csrf, "user_id": str(root), "name": "our CRM"}
    )
    assert page.status_code == 200
    token = re.search(r"(wsk_[A-Za-z0-9_-]+)", page.text).group(1)
    assert token not in client.get("/workspace/admin").text, "shown once only"
    api = httpx.Client(base_url=world.url, timeout=10, headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/v1/queue").status_code == 200
    with world.db() as db:
        token_id = db.scalar(select(ApiToken.id))
    r = client.post(f"/workspace/admin/tokens/{token_id}/revoke", data={"csrf": csrf})
    assert r.status_code == 303
    assert api.get("/api/v1/queue").status_code == 401


def test_search_finds_her_case_by_number_or_by_its_notes_within_what_she_may_open(world):
    world.user("amal")
    world.user("huda")
    mine, other = world.case("ar"), world.case("ar")
    client, csrf = world.login("amal")
    client.post(f"/workspace/cases/{mine}/claim", data={"csrf": csrf})
    client.post(
        f"/workspace/cases/{mine}/note",
        data={"csrf": csrf, "text": "Looking for a shelter in Aarhus"},
    )
    client.post(
        f"/workspace/cases/{mine}/resolve",
        data={"csrf": csrf, "outcome": "referred", "referred_service": "Krisecenter Aarhus"},
    )
    huda, huda_csrf = world.login("huda")
    huda.post(f"/workspace/cases/{other}/claim", data={"csrf": huda_csrf})
    huda.post(f"/workspace/cases/{other}/note", data={"csrf": huda_csrf, "text": "Aarhus too"})

    def ids(client, q):
        return [
            c["id"] for c in client.get("/workspace/queue.json", params={"q": q}).json()["cases"]
        ]

    assert ids(client, "aarhus") == [mine]  # her resolved case, by its note; not Huda's
    assert ids(client, "krisecenter") == [mine]  # by the service she was referred to
    assert ids(client, f"#{mine}") == [mine]
    assert ids(client, f"#{other}") == []  # Huda's case: not hers to open
    assert ids(huda, "aarhus") == [other]
    assert ids(client, "nothing like this") == []


def test_a_danish_counsellor_is_refused_in_danish(world):
    world.user("amal")
    client, csrf = world.login("amal")
    r = client.post("/workspace/me/language", data={"csrf": csrf, "ui_language": "da"})
    assert r.status_code == 303 and r.cookies.get("ws_ui") == "da"
    page = client.get("/workspace/admin")
    assert page.status_code == 403
    assert "Din konto har ikke adgang til denne side." in page.text and 'lang="da"' in page.text
    stranger = world.browser()
    stranger.cookies.set("ws_ui", "da", path="/workspace")
    wrong = stranger.post(
        "/workspace/login",
        data={"csrf": login_csrf(stranger), "username": "amal", "password": "not it at all"},
    )
    assert wrong.status_code == 401 and "Brugernavnet eller adgangskoden er forkert." in wrong.text


def test_an_editor_starts_at_the_content_and_a_counsellor_at_the_queue(world):
    world.user("eddie", role="editor")
    world.user("amal")
    for name, start in (("eddie", "/workspace/content"), ("amal", "/workspace/queue")):
        client = world.browser()
        r = client.post(
            "/workspace/login",
            data={"csrf": login_csrf(client), "username": name, "password": PASSWORD},
        )
        assert r.status_code == 303 and r.headers["location"] == start, name
        home = client.get("/workspace")  # the workspace's address, later
        assert home.headers["location"] == "/workspace/login"
        assert client.get("/workspace/login").headers["location"] == start
