"""Workspace security over real HTTP on loopback: the login lock shared by gateway processes
(real `python -m gateway.app` processes where the server's own settings matter), forwarded
headers trusted only from configured proxies, CSRF on every POST, the API docs not public,
the security headers, and a walk over EVERY route of the app with every role.

The walk's table is written out below: a route added without an entry fails the test, so
whoever adds one decides who may use it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import outbox
from bot.referrals import create_case
from bot.referrals.models import (
    ApiToken,
    AuditLog,
    CannedReply,
    Case,
    LoginFailure,
    OpeningHours,
    User,
    UserSession,
)
from bot.settings import Settings
from bot.storage.db import make_engine, migrate
from bot.storage.models import Contact, Message
from bot.workspace import auth, lockout
from bot.workspace import cases as ws_cases
from gateway.app import create_app
from tests.support.servers import free_port, serve
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
HASH_KEY = "security-test-key"
DATA_KEY = "ZmFrZS1rZXktZm9yLXRlc3RzLW9ubHktMzItYnl0ZXM="  # 32 bytes, url-safe base64
PASSWORD = "a long password"
CLOSED = f"http://127.0.0.1:{free_port()}"  # nothing listens: Rasa and the platforms are away
CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


def settings_for(database_url: str, **extra) -> Settings:
    values = dict(
        hash_key=HASH_KEY,
        data_keys=DATA_KEY,
        database_url=database_url,
        rasa_url=CLOSED,
        action_server_url=CLOSED,
        rasa_timeout_s=2,
    )
    values.update(extra)
    return Settings(**values)


def add_user(engine, name: str, role: str = "counsellor", languages: str = "ar") -> int:
    with Session(engine) as db:
        user = auth.create_user(db, name, PASSWORD, role=role, languages=languages, is_woman=True)
        db.commit()
        return user.id


def login(client: httpx.Client, username: str, password: str, **headers) -> httpx.Response:
    """What the login page does: fetch the form (its token and cookie), then post it."""
    page = client.get("/workspace/login", headers=headers)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/workspace/login",
        data={"username": username, "password": password, "csrf": token},
        headers=headers,
    )


def browser(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=10, follow_redirects=False)


@pytest.fixture
def engine(sqlite_url):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@contextmanager
def gateway_process(database_url: str, **env):
    """`python -m gateway.app`, as tools/stack.py starts it, on a free port."""
    port = free_port()
    environ = {
        **os.environ,
        "APP_ENV": "local",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": database_url,
        "HASH_KEY": HASH_KEY,
        "DATA_KEYS": DATA_KEY,
        "RASA_URL": CLOSED,
        "ACTION_SERVER_URL": CLOSED,
        "TELEGRAM_MODE": "off",
        **env,
    }
    if "TRUSTED_PROXIES" not in env:
        environ.pop("TRUSTED_PROXIES", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.app"],
        cwd=REPO,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the gateway exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            return httpx.get(url + "/workspace/login", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=60, what="the gateway process to answer")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the login lock -------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def shared_db(request):
    """(url, engine) of a database two gateway processes share."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    migrate(url)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


def test_two_gateway_processes_share_the_login_lock(shared_db):
    url, engine = shared_db
    add_user(engine, "amal")
    with gateway_process(url) as first, gateway_process(url) as second:
        a, b = browser(first), browser(second)
        codes = [login(a, "amal", f"guess {i}").status_code for i in range(3)]
        codes += [login(b, "amal", f"guess {i}").status_code for i in range(3, 5)]
        assert codes == [401] * 5
        assert login(b, "amal", PASSWORD).status_code == 429, "the other process knows"
        assert login(a, "amal", PASSWORD).status_code == 429
        assert "ws_session" not in a.cookies and "ws_session" not in b.cookies
    with Session(engine) as db:
        keys = db.scalars(select(LoginFailure.user_key)).all()
    assert len(keys) == 5 and "amal" not in "".join(keys), "only keyed hashes are kept"


def test_a_changing_forwarded_for_header_does_not_defeat_the_lock(sqlite_url, engine):
    add_user(engine, "amal")
    with gateway_process(sqlite_url) as url:  # no TRUSTED_PROXIES: the default
        client = browser(url)
        codes = [
            login(client, "amal", f"guess {i}", **{"X-Forwarded-For": f"203.0.113.{i}"})
            for i in range(5)
        ]
        assert [r.status_code for r in codes] == [401] * 5
        r = login(client, "amal", PASSWORD, **{"X-Forwarded-For": "198.51.100.99"})
        assert r.status_code == 429 and "Too many failed attempts" in r.text


def test_forwarded_for_names_the_client_when_it_comes_from_a_trusted_proxy(sqlite_url, engine):
    add_user(engine, "amal")
    with gateway_process(sqlite_url, TRUSTED_PROXIES="127.0.0.1") as url:
        client = browser(url)
        office = {"X-Forwarded-For": "203.0.113.7"}
        assert [login(client, "amal", f"guess {i}", **office).status_code for i in range(5)] == [
            401
        ] * 5
        assert login(client, "amal", PASSWORD, **office).status_code == 429
        # she, from her own address behind the same proxy, is not locked out by that
        r = login(browser(url), "amal", PASSWORD, **{"X-Forwarded-For": "198.51.100.20"})
        assert r.status_code == 303 and r.headers["location"] == "/workspace/queue"


@pytest.fixture
def behind_proxy(sqlite_url, engine):
    """The gateway behind a proxy on loopback, so each test can speak from any address."""
    with serve(create_app(settings_for(sqlite_url, trusted_proxies="127.0.0.1"))) as url:
        yield url


def test_spraying_many_usernames_from_one_address_is_locked_for_that_address(behind_proxy, engine):
    add_user(engine, "amal")
    sprayer = {"X-Forwarded-For": "192.0.2.66"}
    client = browser(behind_proxy)
    codes = [login(client, f"user{i}", "Summer2026!", **sprayer).status_code for i in range(12)]
    assert codes == [401] * lockout.ADDRESS_LIMIT + [429] * (12 - lockout.ADDRESS_LIMIT)
    assert login(client, "amal", PASSWORD, **sprayer).status_code == 429
    r = login(browser(behind_proxy), "amal", PASSWORD, **{"X-Forwarded-For": "192.0.2.1"})
    assert r.status_code == 303, "another address is not locked"


def test_guessing_one_username_from_many_addresses_is_locked_for_that_username(
    behind_proxy, engine
):
    add_user(engine, "amal")
    client = browser(behind_proxy)
    codes = [
        login(client, "amal", f"guess {i}", **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code
        for i in range(lockout.USER_LIMIT + 1)
    ]
    assert codes == [401] * lockout.USER_LIMIT + [429]
    assert login(client, "root", "guess", **{"X-Forwarded-For": "198.51.100.200"}).status_code == (
        401
    ), "other accounts are not locked"


def test_the_lock_ends_after_its_window(behind_proxy, engine):
    add_user(engine, "amal")
    client = browser(behind_proxy)
    for i in range(lockout.PAIR_LIMIT):
        login(client, "amal", f"guess {i}")
    assert login(client, "amal", PASSWORD).status_code == 429
    with Session(engine) as db:
        for row in db.scalars(select(LoginFailure)):
            row.at = datetime.now(UTC) - lockout.WINDOW - timedelta(seconds=1)
        db.commit()
    assert login(client, "amal", PASSWORD).status_code == 303


# -- CSRF -----------------------------------------------------------------------------------------
@pytest.fixture
def site(sqlite_url, engine):
    with serve(create_app(settings_for(sqlite_url))) as url:
        yield url


def test_a_login_token_equal_to_a_cookie_the_attacker_chose_is_refused(site, engine):
    add_user(engine, "amal")
    client = browser(site)
    client.cookies.set("ws_login", "attacker-chosen", path="/workspace")
    r = client.post(
        "/workspace/login",
        data={"username": "amal", "password": PASSWORD, "csrf": "attacker-chosen"},
    )
    assert r.status_code == 403 and "ws_session" not in client.cookies
    # the server's own format, but signed with another key, or expired
    for token in (
        auth.login_csrf_token("another key"),
        auth.login_csrf_token(HASH_KEY, now=datetime.now(UTC) - timedelta(hours=2)),
    ):
        client = browser(site)
        client.cookies.set("ws_login", token, path="/workspace")
        r = client.post(
            "/workspace/login", data={"username": "amal", "password": PASSWORD, "csrf": token}
        )
        assert r.status_code == 403 and "ws_session" not in client.cookies
    # a token this server signed, but not the one this browser was given
    foreign = auth.login_csrf_token(HASH_KEY)
    client = browser(site)
    client.get("/workspace/login")
    r = client.post(
        "/workspace/login", data={"username": "amal", "password": PASSWORD, "csrf": foreign}
    )
    assert r.status_code == 403
    assert login(browser(site), "amal", PASSWORD).status_code == 303, "the real form works"


def test_a_login_form_from_one_gateway_process_is_accepted_by_another(sqlite_url, engine):
    add_user(engine, "amal")
    with (
        serve(create_app(settings_for(sqlite_url))) as first,
        serve(create_app(settings_for(sqlite_url))) as second,
    ):
        client = browser(first)
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/workspace/login").text)
        r = client.post(
            second + "/workspace/login",
            data={"username": "amal", "password": PASSWORD, "csrf": token.group(1)},
        )
        assert r.status_code == 303


def test_a_form_the_browser_says_came_from_another_site_is_refused(site, engine):
    add_user(engine, "amal")
    client = browser(site)
    r = login(client, "amal", PASSWORD, **{"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and "ws_session" not in client.cookies
    assert login(client, "amal", PASSWORD, **{"Sec-Fetch-Site": "same-origin"}).status_code == 303


# -- every route, every role ----------------------------------------------------------------------
L = "login"  # a 303 to the login page: refused, the browser is asked to log in
ROLES = ("none", "editor", "counsellor", "admin", "editor token", "counsellor token", "admin token")
WAITING = ("/workspace/claim-next", "/claim", "/api/v1/queue/claim")  # need a case to claim
QUERY = {"/webhooks/rest/outbox": {"sender": "fatima"}}
# What each form or API call needs to succeed, so a refusal is the gate's and not the input's.
FIELDS = {
    "/workspace/login": {"username": "admin", "password": PASSWORD},
    "/workspace/cases/{case_id}/reply": {"text": "Hello, I am here."},
    "/workspace/cases/{case_id}/note": {"text": "call after 14:00"},
    "/workspace/cases/{case_id}/transfer": {"to_language": "fa"},
    "/workspace/cases/{case_id}/resolve": {"outcome": "resolved_here"},
    "/workspace/cases/{case_id}/consent": {"consent": "yes"},
    "/workspace/canned": {"language": "ar", "title": "Bye", "text": "مع السلامة"},
    "/workspace/unanswered/dismiss": {"ids": "1,2"},
    "/workspace/canned/{reply_id}": {"title": "Hello again", "text": "أهلا"},
    "/workspace/admin/users": {"username": "new{n}", "password": PASSWORD, "role": "admin"},
    "/workspace/admin/users/{user_id}": {"role": "admin", "active": "yes"},
    "/workspace/admin/hours": {"opens_0": "09:00", "closes_0": "16:00"},
    "/workspace/admin/tokens": {"user_id": "{target}"},
    "/api/v1/cases/{case_id}/reply": {"text": "Hello, I am here."},
    "/api/v1/cases/{case_id}/notes": {"text": "call after 14:00"},
    "/api/v1/cases/{case_id}/transfer": {"to_language": "fa"},
    "/api/v1/cases/{case_id}/resolve": {"outcome": "resolved_here"},
    "/workspace/content/{kinds}/{key}/restore": {"version": "1"},
    "/workspace/me/language": {"ui_language": "da"},
    "/workspace/content/add-questions": {"entry_id": "violence-hotline-1888", "ids": ""},
    "/workspace/content/new": {
        "id": "test-entry-{n}",
        "topic": "everyday",
        "title.en": "A test entry",
        "title.da": "En testpost",
        "answer.en": "Ask the municipality.",
        "answer.da": "Spørg kommunen.",
        "sources": "https://www.borger.dk/ | the municipality answers this",
    },
}


class Walk:
    """The app over HTTP with one account per role, a browser session and an API token each.
    Each request gets its own session and its own case: held by the one asking where that is
    a counsellor or an admin (by the counsellor otherwise), waiting where it is to be claimed."""

    def __init__(self, url: str, engine, app):
        self.url, self.engine, self.app = url, engine, app
        self.ids = {r: add_user(engine, r, r, "ar") for r in ("editor", "counsellor", "admin")}
        self.target = add_user(engine, "target", "counsellor", "ar")  # admin pages change it
        self.n = 0
        with Session(engine) as db:
            self.tokens = {
                f"{role} token": auth.create_token(db, db.get(User, uid))
                for role, uid in self.ids.items()
            }
            db.commit()

    def session(self, role: str) -> tuple[str, str]:
        """(cookie, csrf token) of a fresh session, as a login makes it."""
        with Session(self.engine) as db:
            cookie, row = auth.start_session(db, db.get(User, self.ids[role]))
            db.commit()
            return cookie, row.csrf_token

    def case(self, holder: int | None) -> int:
        """A new Arabic case, offered to the counsellor; claimed by `holder` unless None."""
        with Session(self.engine) as db:
            contact = Contact(
                channel="telegram",
                user_hash=os.urandom(8).hex(),
                language="ar",
                address_enc=outbox.seal_address("55501234", HASH_KEY),
            )
            db.add(contact)
            db.flush()
            db.add(Message(contact_id=contact.id, direction="in", text="مساعدة", language="ar"))
            case_id = create_case(
                db,
                contact,
                topic="violence",
                language="ar",
                priority="normal",
                woman_counsellor=None,
                contact_later=False,
            ).case_id
            if holder is not None:
                ws_cases.claim(db, db.get(User, holder), case_id)
            db.commit()
            return case_id

    def fill(self, template: str, role: str) -> str:
        """The path for one request, with fresh objects to act on."""
        kind = role.removesuffix(" token")
        waiting = template.endswith(WAITING)
        holder = (
            None if waiting else self.ids[kind if kind in ("counsellor", "admin") else "counsellor"]
        )
        with Session(self.engine) as db:
            values = {
                "name": (
                    "languages"  # a plot both the dashboard and the team statistics draw
                    if template.startswith(("/workspace/dashboard/", "/workspace/stats/"))
                    else "workspace.js"
                ),
                "user_id": str(self.target),
                # content (knowledge/content.py, seeded from the YAML at start)
                "entry_id": "violence-hotline-1888",
                "sid": "lev_uden_vold",
                "kinds": "entries",
                "key": "lev_uden_vold" if "/services/" in template else "violence-hotline-1888",
                "version": "1",
            }
            if "{case_id}" in template or waiting:
                values["case_id"] = str(self.case(holder))
            if "{reply_id}" in template:
                reply = CannedReply(language="ar", title="Hello", text="مرحبا")
                db.add(reply)
                db.flush()
                values["reply_id"] = str(reply.id)
            if "{token_id}" in template:
                auth.create_token(db, db.get(User, self.target), "to revoke")
                db.flush()
                values["token_id"] = str(db.scalar(select(func.max(ApiToken.id))))
            db.commit()
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)

    def prepare(self, method: str, template: str, role: str, csrf: bool = True) -> dict:
        """One request as a browser or an API client would send it, with what it acts on
        already in the database."""
        headers: dict[str, str] = {}
        self.n += 1
        fields = {
            k: v.format(n=self.n, target=self.target) for k, v in FIELDS.get(template, {}).items()
        }
        if role in self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        elif role != "none":
            cookie, token = self.session(role)
            headers["Cookie"] = f"ws_session={cookie}"
            if csrf:
                fields["csrf"] = token
        request = {"method": method, "url": self.fill(template, role), "headers": headers}
        if method == "GET":
            request["params"] = QUERY.get(template)
        elif template.startswith("/api/"):
            request["json"] = fields
        else:
            request["data"] = fields
        return request

    def response(self, request: dict) -> httpx.Response:
        with browser(self.url) as client:
            return client.request(**request)

    def send(self, request: dict) -> int | str:
        r = self.response(request)
        where = r.headers.get("location", "")
        if r.status_code == 303 and where.startswith("/workspace/login") and "out" not in where:
            return L  # not "?done=logged_out": that one is a logout that worked
        return r.status_code

    def request(self, method: str, template: str, role: str, csrf: bool = True) -> int | str:
        return self.send(self.prepare(method, template, role, csrf))


def app_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves; HEAD goes with GET."""
    found = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, route.path))
    return sorted(found, key=lambda r: (r[1], r[0]))


@pytest.fixture
def walk(sqlite_url, engine):
    settings = settings_for(
        sqlite_url,
        telegram_mode="webhook",
        telegram_token="123456:TEST-token",
        telegram_secret="s3cret-token_for-tests",
        telegram_api_url=CLOSED,
        whatsapp_token="wa-token",
        whatsapp_phone_number_id="1234",
        whatsapp_app_secret="wa-app-secret",
        whatsapp_verify_token="wa-verify",
        whatsapp_api_url=CLOSED,
    )
    app = create_app(settings)
    with serve(app) as url:
        yield Walk(url, engine, app)


# Who may use which route: the status each role gets, in the order of ROLES:
#                  none editor counsellor admin | tokens: editor counsellor admin
# L: sent to the login page. 303 elsewhere: the form worked. The API takes tokens only (a
# browser session is no credential there), the workspace sessions only; editors' tokens do
# not work on cases. The docs pages are open here because this is local mode on loopback
# (test_the_api_docs_are_not_public covers the rest).
EXPECTED: dict[tuple[str, str], tuple] = {
    # the woman's side and the platforms: the same for everyone, each with its own check
    ("GET", "/health"): (503,) * 7,  # Rasa is away in this test
    ("GET", "/metrics"): (200,) * 7,  # answered to this machine (no METRICS_TOKEN set)
    ("GET", "/privacy"): (200,) * 7,
    ("GET", "/webhooks/rest/"): (200,) * 7,
    ("GET", "/webhooks/rest/outbox"): (401,) * 7,  # needs her X-Outbox-Token
    ("POST", "/webhooks/rest/webhook"): (415,) * 7,  # a form is not JSON
    ("POST", "/webhooks/telegram"): (401,) * 7,  # needs Telegram's secret
    ("GET", "/webhooks/whatsapp"): (403,) * 7,  # needs the verify token
    ("POST", "/webhooks/whatsapp"): (401,) * 7,  # needs Meta's signature
    ("GET", "/docs"): (200,) * 7,
    ("GET", "/redoc"): (200,) * 7,
    ("GET", "/openapi.json"): (200,) * 7,
    # JSON API
    ("GET", "/api/v1/queue"): (401, 401, 401, 401, 403, 200, 200),
    ("POST", "/api/v1/queue/claim"): (401, 401, 401, 401, 403, 200, 200),
    ("GET", "/api/v1/cases/{case_id}"): (401, 401, 401, 401, 403, 200, 200),
    ("POST", "/api/v1/cases/{case_id}/claim"): (401, 401, 401, 401, 403, 200, 200),
    ("POST", "/api/v1/cases/{case_id}/notes"): (401, 401, 401, 401, 403, 201, 201),
    ("POST", "/api/v1/cases/{case_id}/release"): (401, 401, 401, 401, 403, 200, 200),
    ("POST", "/api/v1/cases/{case_id}/reply"): (401, 401, 401, 401, 403, 201, 201),
    ("POST", "/api/v1/cases/{case_id}/resolve"): (401, 401, 401, 401, 403, 200, 200),
    ("POST", "/api/v1/cases/{case_id}/transfer"): (401, 401, 401, 401, 403, 200, 200),
    ("GET", "/api/v1/unanswered"): (401, 401, 401, 401, 200, 403, 200),  # editors' tokens
    # content, editors' and admins' tokens (a body of only a token's fields is refused: 422)
    ("GET", "/api/v1/entries"): (401, 401, 401, 401, 200, 403, 200),
    ("GET", "/api/v1/entries/{key}"): (401, 401, 401, 401, 200, 403, 200),
    ("PUT", "/api/v1/entries/{key}/draft"): (401, 401, 401, 401, 422, 403, 422),
    ("DELETE", "/api/v1/entries/{key}/draft"): (401, 401, 401, 401, 200, 403, 200),
    ("POST", "/api/v1/entries/{key}/publish"): (401, 401, 401, 401, 422, 403, 422),  # no draft
    ("GET", "/api/v1/entries/{key}/versions"): (401, 401, 401, 401, 200, 403, 200),
    ("POST", "/api/v1/entries/{key}/versions/{version}/restore"): (
        401,
        401,
        401,
        401,
        200,
        403,
        200,
    ),
    ("GET", "/api/v1/services"): (401, 401, 401, 401, 200, 403, 200),
    ("GET", "/api/v1/services/{key}"): (401, 401, 401, 401, 200, 403, 200),
    ("PUT", "/api/v1/services/{key}/draft"): (401, 401, 401, 401, 422, 403, 422),
    ("DELETE", "/api/v1/services/{key}/draft"): (401, 401, 401, 401, 200, 403, 200),
    ("POST", "/api/v1/services/{key}/publish"): (401, 401, 401, 401, 422, 403, 422),
    ("GET", "/api/v1/services/{key}/versions"): (401, 401, 401, 401, 200, 403, 200),
    ("POST", "/api/v1/services/{key}/versions/{version}/restore"): (
        401,
        401,
        401,
        401,
        200,
        403,
        200,
    ),
    # workspace: open to all
    # to the login page, which sends whoever is logged in on to her start page
    ("GET", "/workspace"): (L,) * 7,
    ("GET", "/workspace/"): (L,) * 7,
    ("GET", "/workspace/static/{name}"): (200,) * 7,
    ("GET", "/workspace/login"): (200, 303, 303, 303, 200, 200, 200),
    ("POST", "/workspace/login"): (403,) * 7,  # without the login form's own token
    ("POST", "/workspace/logout"): (L, 303, 303, 303, L, L, L),
    ("POST", "/workspace/me/language"): (L, 303, 303, 303, L, L, L),
    # workspace: counsellors and admins
    ("GET", "/workspace/queue"): (L, 403, 200, 200, L, L, L),
    ("GET", "/workspace/queue.json"): (401, 403, 200, 200, 401, 401, 401),
    ("POST", "/workspace/claim-next"): (L, 403, 303, 303, L, L, L),
    ("GET", "/workspace/cases/{case_id}"): (L, 403, 200, 200, L, L, L),
    ("GET", "/workspace/cases/{case_id}/messages.json"): (401, 403, 200, 200, 401, 401, 401),
    ("POST", "/workspace/cases/{case_id}/claim"): (L, 403, 303, 303, L, L, L),
    ("POST", "/workspace/cases/{case_id}/consent"): (L, 403, 303, 303, L, L, L),
    ("POST", "/workspace/cases/{case_id}/export"): (L, 403, 200, 200, L, L, L),
    ("POST", "/workspace/cases/{case_id}/note"): (L, 403, 303, 303, L, L, L),
    ("POST", "/workspace/cases/{case_id}/release"): (L, 403, 303, 303, L, L, L),
    ("POST", "/workspace/cases/{case_id}/reply"): (L, 403, 303, 303, L, L, L),
    ("POST", "/workspace/cases/{case_id}/resolve"): (L, 403, 303, 303, L, L, L),
    ("POST", "/workspace/cases/{case_id}/transfer"): (L, 403, 303, 303, L, L, L),
    # workspace: editors and admins
    # canned replies: everyone sees them and adds her own; shared ones (the one acted on here)
    # are changed by editors and admins only
    ("GET", "/workspace/canned"): (L, 200, 200, 200, L, L, L),
    ("POST", "/workspace/canned"): (L, 303, 303, 303, L, L, L),
    ("POST", "/workspace/canned/{reply_id}"): (L, 303, 403, 303, L, L, L),  # edit, same language
    ("POST", "/workspace/canned/{reply_id}/delete"): (L, 303, 403, 303, L, L, L),
    ("GET", "/workspace/unanswered"): (L, 200, 403, 200, L, L, L),
    ("POST", "/workspace/unanswered/dismiss"): (L, 303, 403, 303, L, L, L),
    ("GET", "/workspace/content"): (L, 200, 403, 200, L, L, L),
    ("GET", "/workspace/content/new"): (L, 200, 403, 200, L, L, L),
    ("POST", "/workspace/content/new"): (L, 303, 403, 303, L, L, L),
    ("POST", "/workspace/content/add-questions"): (L, 303, 403, 303, L, L, L),
    ("GET", "/workspace/content/entries/{entry_id}"): (L, 200, 403, 200, L, L, L),
    ("POST", "/workspace/content/entries/{entry_id}"): (L, 303, 403, 303, L, L, L),  # a draft
    ("GET", "/workspace/content/services/{sid}"): (L, 200, 403, 200, L, L, L),
    ("POST", "/workspace/content/services/{sid}"): (L, 303, 403, 303, L, L, L),
    ("GET", "/workspace/content/{kinds}/{key}/versions"): (L, 200, 403, 200, L, L, L),
    ("POST", "/workspace/content/{kinds}/{key}/restore"): (L, 303, 403, 303, L, L, L),
    ("GET", "/workspace/dashboard"): (L, 200, 403, 200, L, L, L),
    ("GET", "/workspace/dashboard/{name}.svg"): (L, 200, 403, 200, L, L, L),
    # workspace: admins
    ("GET", "/workspace/admin"): (L, 403, 403, 200, L, L, L),
    ("GET", "/workspace/stats"): (L, 403, 403, 200, L, L, L),
    ("GET", "/workspace/stats/{name}.svg"): (L, 403, 403, 200, L, L, L),
    ("POST", "/workspace/admin/hours"): (L, 403, 403, 303, L, L, L),
    ("POST", "/workspace/admin/tokens"): (L, 403, 403, 200, L, L, L),
    ("POST", "/workspace/admin/tokens/{token_id}/revoke"): (L, 403, 403, 303, L, L, L),
    ("POST", "/workspace/admin/users"): (L, 403, 403, 303, L, L, L),
    ("POST", "/workspace/admin/users/{user_id}"): (L, 403, 403, 303, L, L, L),
}


def test_every_route_gives_each_role_what_the_table_says(walk):
    routes = app_routes(walk.app)
    missing = [r for r in routes if r not in EXPECTED]
    assert not missing, f"routes without an entry in EXPECTED (decide who may use them): {missing}"
    gone = [r for r in EXPECTED if r not in routes]
    assert not gone, f"entries for routes the app no longer has: {gone}"
    wrong = {}
    for method, path in routes:
        got = tuple(walk.request(method, path, role) for role in ROLES)
        if got != EXPECTED[method, path]:
            wrong[f"{method} {path}"] = {
                role: f"expected {want}, got {was}"
                for role, want, was in zip(ROLES, EXPECTED[method, path], got, strict=True)
                if want != was
            }
    assert not wrong, wrong


# What a POST without a CSRF token gets, by where it goes: the workspace checks the token; the
# API takes only a bearer token, which no other site can make a browser send; the webhooks
# take JSON (a cross-site form is not) or a platform's secret or signature.
REFUSED_WITHOUT_TOKEN = {
    "/workspace/": 403,
    "/api/v1/": 401,
    "/webhooks/rest/": 415,
    "/webhooks/telegram": 401,
    "/webhooks/whatsapp": 401,
}


def _state(engine) -> dict:
    with Session(engine) as db:
        return {
            "cases": sorted(db.execute(select(Case.id, Case.status, Case.show_identifier)).all()),
            "users": sorted(db.execute(select(User.username, User.role, User.active)).all()),
            "tokens": sorted(db.execute(select(ApiToken.id, ApiToken.revoked)).all()),
            "canned": db.scalar(select(func.count()).select_from(CannedReply)),
            "messages": db.scalar(select(func.count()).select_from(Message)),
            "audit": sorted(db.scalars(select(AuditLog.action)).all()),
            "hours": db.scalar(select(func.count()).select_from(OpeningHours)),
            "sessions": db.scalar(select(func.count()).select_from(UserSession)),
        }


def test_every_post_route_refuses_a_form_without_its_csrf_token(walk):
    posts = [path for method, path in app_routes(walk.app) if method == "POST"]
    assert len(posts) >= 25
    for path in posts:
        expected = [c for prefix, c in REFUSED_WITHOUT_TOKEN.items() if path.startswith(prefix)]
        assert expected, f"{path}: no rule in REFUSED_WITHOUT_TOKEN"
        request = walk.prepare("POST", path, "admin", csrf=False)  # logged in, no token
        before = _state(walk.engine)
        got = walk.send(request)
        assert got == expected[0], f"POST {path} without a token: {got}"
        assert _state(walk.engine) == before, f"POST {path} without a token changed something"
    # and each workspace form, with its token, does what it is for (the refusals above were
    # the token's, not the form's)
    for path in posts:
        if path.startswith("/workspace/") and path != "/workspace/login":
            assert walk.request("POST", path, "admin") in (200, 303), path


def test_an_admin_cannot_record_consent_she_did_not_hear(walk):
    """Consent to show her number is recorded by the counsellor in the chat with her; an admin
    may hide the number again, never reveal it for a case someone else holds."""
    case_id = walk.case(walk.ids["counsellor"])
    cookie, csrf = walk.session("admin")
    with browser(walk.url) as admin:
        admin.headers["Cookie"] = f"ws_session={cookie}"
        url = f"/workspace/cases/{case_id}/consent"
        assert admin.post(url, data={"csrf": csrf, "consent": "yes"}).status_code == 403
        assert walk_case(walk, case_id).show_identifier is False
        assert admin.post(url, data={"csrf": csrf, "consent": "no"}).status_code == 303


def walk_case(walk, case_id: int) -> Case:
    with Session(walk.engine) as db:
        return db.get(Case, case_id)


# -- headers and the docs -------------------------------------------------------------------------
def test_every_workspace_page_sends_a_csp_without_inline_scripts(walk):
    pages = [p for m, p in app_routes(walk.app) if m == "GET" and p.startswith("/workspace")]
    seen = 0
    for path in pages:
        for role in ("none", "counsellor", "editor", "admin"):  # pages, refusals, redirects
            r = walk.response(walk.prepare("GET", path, role))
            # a plot is an image: its own inline styles and nothing else (no script, no fetch)
            plot = r.headers.get("content-type", "").startswith("image/svg+xml")
            want = "default-src 'none'; style-src 'unsafe-inline'" if plot else CSP
            assert r.headers.get("content-security-policy") == want, (path, role)
            assert r.headers.get("x-content-type-options") == "nosniff", (path, role)
            assert r.headers.get("referrer-policy") == "no-referrer", (path, role)
            seen += r.headers.get("content-type", "").startswith("text/html")
    assert seen >= 10
    # what the policy forbids is not in the templates either
    for template in (REPO / "bot" / "workspace" / "templates").glob("*.html"):
        html = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), f"inline script in {template.name}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"inline handler in {template.name}"
        assert "javascript:" not in html, template.name


def test_the_api_docs_are_not_public(sqlite_url, engine):
    add_user(engine, "root", "admin")
    add_user(engine, "amal")
    with Session(engine) as db:
        admin_token = auth.create_token(db, db.scalar(select(User).where(User.username == "root")))
        counsellor_token = auth.create_token(
            db, db.scalar(select(User).where(User.username == "amal"))
        )
        db.commit()
    app = create_app(settings_for(sqlite_url, env="production"))
    with serve(app) as url:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            assert httpx.get(url + path, timeout=10).status_code == 404, path
        bearer = {"Authorization": f"Bearer {counsellor_token}"}
        assert httpx.get(url + "/openapi.json", headers=bearer, timeout=10).status_code == 404
        bearer = {"Authorization": f"Bearer {admin_token}"}
        r = httpx.get(url + "/openapi.json", headers=bearer, timeout=10)
        assert r.status_code == 200 and "/api/v1/cases/{case_id}/reply" in r.json()["paths"]
        assert httpx.get(url + "/docs", headers=bearer, timeout=10).status_code == 404
    # in local mode, for a browser on this machine only, not through a proxy
    with serve(create_app(settings_for(sqlite_url))) as url:
        assert httpx.get(url + "/docs", timeout=10).status_code == 200
        forwarded = {"X-Forwarded-For": "203.0.113.5"}
        assert httpx.get(url + "/openapi.json", headers=forwarded, timeout=10).status_code == 404
    spec = app.openapi()  # in-process, as the fuzzing takes it
    assert "/api/v1/queue" in spec["paths"]
    assert not any(p.startswith(("/workspace", "/docs", "/openapi")) for p in spec["paths"])


def test_ids_no_row_can_have_are_not_found_never_a_server_error(walk):
    """The probe's case id 99999999999999999999 overflowed the database driver (500, and the
    reused connection was reset). Every route with an id, on one kept-alive connection."""
    cookie, csrf = walk.session("admin")
    session = {"Cookie": f"ws_session={cookie}"}
    token = {"Authorization": f"Bearer {walk.tokens['admin token']}"}
    routes = [(m, p) for m, p in app_routes(walk.app) if re.search(r"\{\w+_id\}", p)]
    assert len(routes) >= 20
    got = {}
    with browser(walk.url) as client:
        for method, template in routes:
            for value in ("99999999999999999999", "0", "-1"):
                path = re.sub(r"\{\w+_id\}", value, template)
                if template.startswith("/api/"):
                    r = client.request(method, path, headers=token, json={"text": "x"})
                elif method == "POST":
                    r = client.post(path, headers=session, data={"csrf": csrf, "text": "x"})
                else:
                    r = client.get(path, headers=session)
                got[f"{method} {path}"] = r.status_code
        for value in ("99999999999999999999", "abc"):
            r = client.post(
                "/workspace/admin/tokens", headers=session, data={"csrf": csrf, "user_id": value}
            )
            got[f"POST /workspace/admin/tokens user_id={value}"] = r.status_code
            r = client.post(
                f"/workspace/cases/{walk.case(walk.ids['admin'])}/transfer",
                headers=session,
                data={"csrf": csrf, "to_user": value},
            )
            got[f"POST transfer to_user={value}"] = r.status_code
    assert {k: v for k, v in got.items() if v not in (303, 400, 404, 422)} == {}
    assert set(got.values()) >= {404, 400}
