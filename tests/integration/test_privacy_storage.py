"""Privacy at rest, over the real gateway (HTTP on loopback, a scripted Rasa) and the real
database: what she writes is unreadable in a copy of the database file but readable to her
counsellor; her data is deleted RETENTION_DAYS after her last message, each kind of it, and
nothing recent is; she can be given everything kept about her as a file, and only by staff
who may open her case; keys can be rotated and old clear-text rows are encrypted by 0004.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from datetime import timedelta

import httpx
import pytest
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy import DateTime, String, Text, column, func, inspect, select, table, text
from sqlalchemy.orm import Session

from bot.referrals import create_case, queue
from bot.referrals.models import AuditLog, CannedReply, Case, CaseNote, User
from bot.storage import crypto, retention
from bot.storage.db import REPO, _alembic_config, make_engine, migrate
from bot.storage.models import Contact, Feedback, Message, UnansweredQuestion, new_key, utcnow
from bot.workspace import auth
from tests.support.encrypted_gateway import data_key, encrypted_gateway

KEY = Fernet.generate_key().decode()
PASSWORD = "a long password"


@pytest.fixture(autouse=True)
def keys():
    with data_key(KEY):
        yield


@pytest.fixture
def gateway(sqlite_url):
    with encrypted_gateway(sqlite_url, KEY) as (url, engine, rasa):
        yield url, engine


def login(url: str, username: str, home: str = "/workspace/queue") -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=10)
    form = client.get("/workspace/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    r = client.post(
        "/workspace/login", data={"username": username, "password": PASSWORD, "csrf": token}
    )
    assert r.status_code == 303, r.text
    page = client.get(home).text
    return client, re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def user(engine, name: str, role: str = "counsellor", languages: str = "en") -> User:
    with Session(engine, expire_on_commit=False) as db:
        u = auth.create_user(db, name, PASSWORD, role=role, languages=languages, is_woman=True)
        db.commit()
        return u


TRACKERS = table(
    "rasa_trackers",
    column("sender_id", String),
    column("updated_at", DateTime(timezone=True)),
    column("data", Text),
)


def _trackers_table(engine) -> None:
    """Migration 0005 makes it; until then (or without it) the columns it is specified with."""
    with engine.begin() as conn:
        if not inspect(conn).has_table("rasa_trackers"):
            conn.execute(
                text(
                    "create table rasa_trackers (sender_id text primary key,"
                    " updated_at timestamp with time zone, data text)"
                )
            )


# -- encryption at rest ---------------------------------------------------------------------------
def test_her_words_are_not_in_the_database_files_yet_her_counsellor_reads_them(gateway, tmp_path):
    url, engine = gateway
    word, secret_note = f"quokkaberry{uuid.uuid4().hex[:8]}", f"wombatnote{uuid.uuid4().hex[:8]}"
    r = httpx.post(
        f"{url}/webhooks/rest/webhook",
        json={"sender": "mina", "message": f"where is the {word} office?"},
        timeout=10,
    )
    assert r.status_code == 200 and word in r.json()[0]["text"], "the answer quotes her"
    user(engine, "amal")
    with Session(engine) as db:
        contact = db.scalars(select(Contact)).one()
        case_id = create_case(db, contact, topic="health", language="en").case_id
        db.commit()
    client, csrf = login(url, "amal")
    client.post(f"/workspace/cases/{case_id}/note", data={"csrf": csrf, "text": secret_note})
    page = client.get(f"/workspace/cases/{case_id}")
    assert page.status_code == 200
    assert f"where is the {word} office?" in page.text, "her message, decrypted"
    assert f"echo: where is the {word} office?" in page.text, "the answer, decrypted"
    assert secret_note in page.text, "the note, decrypted"

    files = [p for p in tmp_path.iterdir() if p.name.startswith("bot.storage.db")]
    assert any(p.name.endswith("-wal") for p in files), "the write-ahead log is read too"
    raw = b"".join(p.read_bytes() for p in files)
    assert word.encode() not in raw and secret_note.encode() not in raw


def test_migration_0004_encrypts_rows_written_in_clear_before_it(sqlite_url):
    command.upgrade(_alembic_config(sqlite_url), "0003")
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into contacts (channel, user_hash, conversation_key, language_chosen,"
                " created_at, last_seen_at) values ('rest', 'h', 'k', 0, :t, :t)"
            ),
            {"t": utcnow()},
        )
        conn.execute(
            text(
                "insert into messages (contact_id, direction, kind, text, payload, status,"
                " created_at, attempts) values (1, 'in', 'text', 'mit gamle pas', NULL,"
                " 'processed', :t, 0)"
            ),
            {"t": utcnow()},
        )
        conn.execute(
            text(
                "insert into canned_replies (language, title, text, created_at)"
                " values ('da', 'hej', 'Hej, jeg hedder Amal', :t)"
            ),
            {"t": utcnow()},
        )
    migrate(sqlite_url)
    migrate(sqlite_url)  # again: nothing is encrypted twice
    with engine.connect() as conn:
        raw = conn.execute(text("select text, payload from messages")).one()
        canned = conn.scalar(text("select text from canned_replies"))
    assert raw.text.startswith("gAAAAA") and raw.payload is None
    assert "pas" not in raw.text and "Amal" not in canned
    with Session(engine) as db:
        assert db.scalars(select(Message.text)).one() == "mit gamle pas"
    engine.dispose()


def test_rotation_from_the_command_line_lets_the_old_key_go(sqlite_url):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine) as db:
        contact = Contact(channel="rest", user_hash="h")
        db.add(contact)
        db.flush()
        db.add(Message(contact_id=contact.id, direction="in", text="under the old key"))
        db.commit()
    _trackers_table(engine)
    with engine.begin() as conn:  # Rasa's tracker, sealed as nlu/tracker_store.py does
        conn.execute(
            TRACKERS.insert().values(
                sender_id="k", updated_at=utcnow(), data=crypto.encrypt('{"events": []}')
            )
        )
    new = Fernet.generate_key().decode()
    env = {
        **os.environ,
        "APP_ENV": "local",
        "DATABASE_URL": sqlite_url,
        "DATA_KEYS": f"{new},{KEY}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.storage.rotate"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    with Session(engine) as db:  # the starter canned replies (migration 0015) are sealed too
        starters = db.scalar(select(func.count()).select_from(CannedReply))
    assert starters and f"re-encrypted {2 + starters} values" in done.stdout
    crypto.use_keys(new)  # the old key is gone
    with Session(engine) as db:
        assert db.scalars(select(Message.text)).one() == "under the old key"
        assert crypto.decrypt(db.scalars(select(TRACKERS.c.data)).one()) == '{"events": []}'
    engine.dispose()


# -- retention ------------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


def _her(db: Session, last_seen, *, with_case: bool) -> Contact:
    contact = Contact(
        channel="telegram",
        user_hash=new_key(),
        language="en",
        created_at=last_seen,
        last_seen_at=last_seen,
    )
    db.add(contact)
    db.flush()
    asked = Message(contact_id=contact.id, direction="in", text="help", created_at=last_seen)
    db.add(asked)
    db.flush()
    db.add(Message(contact_id=contact.id, direction="out", text="yes", reply_to_id=asked.id))
    if with_case:
        case_id = create_case(db, contact, topic="violence", language="en").case_id
        db.add_all(CaseNote(case_id=case_id, text=f"note {i}") for i in range(2))
    db.flush()
    return contact


def test_the_sweep_deletes_every_kind_of_old_data_and_keeps_the_recent(database_url):
    migrate(database_url)
    engine = make_engine(database_url)
    _trackers_table(engine)
    now = utcnow()
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    with Session(engine) as db:
        gone = [_her(db, old, with_case=True), _her(db, old, with_case=False)]
        kept = _her(db, recent, with_case=True)
        db.add_all(
            [
                Feedback(helpful=True, created_at=old),
                Feedback(helpful=False, created_at=old),
                Feedback(helpful=True, created_at=recent),
            ]
        )
        db.add_all(
            UnansweredQuestion(
                contact_id=c.id, reason="clarify", language="en", text="q", created_at=at
            )
            for c, at in ((gone[0], old), (kept, old), (kept, recent))
        )  # the second: she still writes, but that question is too old
        db.execute(
            TRACKERS.insert(),
            [
                # her conversation in Rasa, touched lately, but she is deleted: it goes with her
                {"sender_id": gone[0].conversation_key, "updated_at": recent, "data": "{}"},
                {"sender_id": "orphan-stale", "updated_at": old, "data": "{}"},
                {"sender_id": kept.conversation_key, "updated_at": recent, "data": "{}"},
            ],
        )
        db.commit()
        kept_id, kept_key = kept.id, kept.conversation_key

    with Session(engine) as db:
        done = retention.sweep(db, now, days=30)
        db.commit()

    assert done == {
        "contacts": 2,
        "messages": 4,
        "cases": 1,
        "notes": 2,
        "feedback": 2,
        "trackers": 2,
        "unanswered": 2,
    }
    with Session(engine) as db:
        assert db.scalars(select(Contact.id)).all() == [kept_id]
        assert {m.contact_id for m in db.scalars(select(Message))} == {kept_id}
        assert [c.contact_id for c in db.scalars(select(Case))] == [kept_id]
        assert db.scalar(select(func.count()).select_from(CaseNote)) == 2
        assert db.scalar(select(func.count()).select_from(Feedback)) == 1
        assert db.scalars(select(TRACKERS.c.sender_id)).all() == [kept_key]
        assert db.scalars(select(UnansweredQuestion.contact_id)).all() == [kept_id]
    with Session(engine) as db:
        assert set(retention.sweep(db, now, days=30).values()) == {0}, "nothing more to do"
    engine.dispose()


def test_the_retention_command_runs_once_and_tolerates_no_tracker_table(sqlite_url):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("drop table if exists rasa_trackers"))
    with Session(engine) as db:
        _her(db, utcnow() - timedelta(days=8), with_case=True)
        db.commit()
    env = {
        **os.environ,
        "APP_ENV": "local",
        "DATABASE_URL": sqlite_url,
        "DATA_KEYS": KEY,
        "RETENTION_DAYS": "7",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.storage.retention"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "retention 7 days: deleted 1 contacts, 2 messages, 1 cases, 2 notes" in done.stdout
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Contact)) == 0
    engine.dispose()


# -- right of access ------------------------------------------------------------------------------
def _two_women(engine, amal: User) -> tuple[int, int]:
    """Her (a resolved case and a held one, with notes; two unanswered questions) and another
    woman; (her case, other's)."""
    with Session(engine) as db:
        amal = db.get_one(User, amal.id)
        her = Contact(channel="telegram", user_hash=new_key(), language="en")
        other = Contact(channel="telegram", user_hash=new_key(), language="en")
        db.add_all([her, other])
        db.flush()
        asked = Message(contact_id=her.id, direction="in", text="where do I get a health card?")
        db.add(asked)
        db.flush()
        db.add(
            Message(
                contact_id=her.id,
                direction="out",
                reply_to_id=asked.id,
                text="At Borgerservice.",
                payload=json.dumps([{"title": "Thanks", "payload": "/thanks"}]),
            )
        )
        db.add(Message(contact_id=other.id, direction="in", text="the other woman's secret"))
        db.add_all(
            [
                UnansweredQuestion(
                    contact_id=her.id, reason="no_answer", language="en", text="can I foster?"
                ),
                UnansweredQuestion(
                    contact_id=her.id, reason="not_helpful", language="en", entry_id="health-card"
                ),
                UnansweredQuestion(
                    contact_id=other.id,
                    reason="no_answer",
                    language="en",
                    text="the other woman's question",
                ),
            ]
        )
        first = create_case(db, her, topic="health", language="en").case_id
        queue.claim(db, amal, first)
        queue.resolve(db, db.get_one(Case, first), amal, "referred", "Borgerservice")
        db.add(CaseNote(case_id=first, user_id=amal.id, text="gave her the address"))
        db.flush()
        second = create_case(db, her, topic="violence", language="en").case_id
        queue.claim(db, amal, second)
        db.add(CaseNote(case_id=second, user_id=amal.id, text="she is safe tonight"))
        theirs = create_case(db, other, topic="health", language="en").case_id
        db.add(CaseNote(case_id=theirs, text="the other woman's note"))
        db.commit()
        return second, theirs


def test_her_counsellor_exports_everything_kept_about_her_and_it_is_audited(gateway):
    url, engine = gateway
    amal = user(engine, "amal")
    case_id, _ = _two_women(engine, amal)
    client, csrf = login(url, "amal")
    assert (
        f'action="/workspace/cases/{case_id}/export"'
        in client.get(f"/workspace/cases/{case_id}").text
    )
    r = client.post(f"/workspace/cases/{case_id}/export", data={"csrf": csrf})

    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"] == (
        f'attachment; filename="her-data-case-{case_id}.json"'
    )
    data = r.json()
    assert [(m["from"], m["text"], m["buttons"]) for m in data["messages"]] == [
        ("her", "where do I get a health card?", []),
        ("bot", "At Borgerservice.", ["Thanks"]),
    ]
    assert all(m["at"] for m in data["messages"])
    assert [
        (c["topic"], c["outcome"], c["referred_service"], [n["text"] for n in c["notes"]])
        for c in data["cases"]
    ] == [
        ("health", "referred", "Borgerservice", ["gave her the address"]),
        ("violence", None, None, ["she is safe tonight"]),
    ]
    assert [(q["reason"], q["text"]) for q in data["unanswered_questions"]] == [
        ("no_answer", "can I foster?"),
        ("not_helpful", ""),
    ], "her unanswered questions, decrypted, and only hers"
    assert all(q["at"] and q["language"] == "en" for q in data["unanswered_questions"])
    assert data["contact"]["kept_until"] > data["contact"]["last_message_at"]
    assert "other woman" not in r.text
    assert "argon2" not in r.text and "amal" not in r.text, "no staff accounts"
    with Session(engine) as db:
        entries = db.scalars(select(AuditLog).where(AuditLog.action == "export")).all()
        assert [(e.username, e.case_id) for e in entries] == [("amal", case_id)]


def test_staff_who_may_not_open_her_case_cannot_export_it(gateway):
    url, engine = gateway
    amal = user(engine, "amal")
    user(engine, "hodan", languages="so")
    user(engine, "eddie", role="editor")
    case_id, _ = _two_women(engine, amal)
    for name, status in (("eddie", 403), ("hodan", 404)):  # 404: as the case page answers
        client, csrf = login(
            url, name, "/workspace/canned" if name == "eddie" else "/workspace/queue"
        )
        r = client.post(f"/workspace/cases/{case_id}/export", data={"csrf": csrf})
        assert r.status_code == status, name
        assert "she is safe tonight" not in r.text
    client, _ = login(url, "amal")
    r = client.post(f"/workspace/cases/{case_id}/export", data={"csrf": "forged"})
    assert r.status_code == 403, "her own counsellor needs the form's token too"
    with Session(engine) as db:
        assert db.scalar(select(func.count()).where(AuditLog.action == "export")) == 0
