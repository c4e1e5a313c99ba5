"""The counsellor workspace in a real browser (Chromium, headless), against the gateway app on
loopback with a SQLite file.

A counsellor logs in, sees a waiting Arabic case appear in her queue without reloading,
claims it, reads the transcript, answers with a canned reply, sees her new message arrive,
and resolves it; her reply is stored as an outbound counsellor message, and the gateway's
delivery worker puts it in the woman's chat on a fake Telegram Bot API.
Refusals: a wrong password, no session, a counsellor on the admin page.
Screenshots of each page go to var/screenshots/ for a person to look at.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import outbox
from bot.referrals import create_case
from bot.referrals.models import AuditLog, CannedReply, Case
from bot.settings import Settings
from bot.storage.db import make_engine, migrate
from bot.storage.models import Contact, Message
from bot.workspace import auth
from gateway.app import create_app
from tests.support.fake_telegram import FakeTelegram
from tests.support.servers import serve

PASSWORD = "a long password"
HASH_KEY = "browser-test-key"
CHAT_ID = 55501234


@pytest.fixture
def site(sqlite_url):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine) as db:
        auth.create_user(
            db,
            "amal",
            PASSWORD,
            role="counsellor",
            languages="ar,en",
            is_woman=True,
            display_name="Amal",
        )
        auth.create_user(
            db, "root", PASSWORD, role="admin", languages="da,en", display_name="Admin"
        )
        db.add(
            CannedReply(
                language="ar", title="Greeting", text="مرحبا، أنا مستشارة. أنا هنا لمساعدتك."
            )
        )
        db.commit()
    tg = FakeTelegram()
    with serve(tg.app) as tg_url:
        settings = Settings(
            hash_key=HASH_KEY,
            database_url=sqlite_url,
            telegram_mode="webhook",
            telegram_token="123456:TEST-token",
            telegram_secret="s3cret-token_for-tests",
            telegram_api_url=tg_url,
        )
        with serve(create_app(settings)) as url:
            yield url, engine, tg
    engine.dispose()


def new_case(engine, text="أحتاج إلى التحدث مع امرأة", priority="high") -> int:
    """What the gateway does when she asks for a person on Telegram."""
    with Session(engine) as db:
        c = Contact(
            channel="telegram",
            user_hash=f"h-{text}",
            language="ar",
            address_enc=outbox.seal_address(str(CHAT_ID), HASH_KEY),
        )
        db.add(c)
        db.flush()
        db.add(Message(contact_id=c.id, direction="in", kind="text", text=text, language="ar"))
        case_id = create_case(
            db,
            c,
            topic="violence",
            language="ar",
            priority=priority,
            woman_counsellor=True,
            contact_later=False,
        ).case_id
        db.commit()
        return case_id


def login(page, url, username, password=PASSWORD):
    page.goto(f"{url}/workspace/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_counsellor_claims_answers_and_resolves_a_case(chromium, site, screenshots):
    url, engine, tg = site
    context = chromium.new_context(viewport={"width": 1366, "height": 860})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{url}/workspace/login")
    page.screenshot(path=screenshots / "login.png", full_page=True)
    login(page, url, "amal", "not the password")
    expect(page.get_by_role("alert")).to_contain_text("not right")
    login(page, url, "amal")
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    expect(page.get_by_text("No cases here right now.")).to_be_visible()

    case_id = new_case(engine)  # arrives while she looks at the queue
    row = page.locator("#queue-rows tr", has_text=f"#{case_id}")
    expect(row).to_be_visible(timeout=10_000)  # live update, no reload
    expect(row).to_contain_text("Arabic")
    expect(row).to_contain_text("a woman counsellor")
    page.screenshot(path=screenshots / "queue.png", full_page=True)

    row.get_by_role("button", name="Claim").click()
    expect(page).to_have_url(re.compile(rf"/workspace/cases/{case_id}$|/cases/{case_id}\?"))
    expect(page.get_by_role("status").first).to_contain_text("The case is yours")
    expect(page.locator("#transcript")).to_contain_text("أحتاج إلى التحدث مع امرأة")
    expect(page.get_by_text("55501234")).to_have_count(0)  # her number stays hidden

    page.get_by_label("Canned reply in Arabic").select_option(label="Greeting")
    expect(page.get_by_label("Your reply to her")).to_have_value(
        "مرحبا، أنا مستشارة. أنا هنا لمساعدتك."
    )
    page.get_by_label("Your reply to her").fill("مرحبا، أنا أمل. هل أنت في أمان الآن؟")
    page.get_by_role("button", name="Send to her").click()
    expect(page.get_by_role("status").first).to_contain_text("on its way")
    expect(page.locator("#transcript .k-counsellor")).to_contain_text("هل أنت في أمان الآن؟")
    # the delivery worker sends it to her Telegram chat; the transcript follows its state
    expect(page.locator("#transcript .k-counsellor .delivery")).to_contain_text(
        re.compile("^(sent|delivered|read)$"), timeout=10_000
    )
    assert [m["text"] for m in tg.chat(CHAT_ID)] == ["مرحبا، أنا أمل. هل أنت في أمان الآن؟"]

    with Session(engine) as db:
        case = db.get(Case, case_id)
        sent = db.scalars(
            select(Message).where(
                Message.contact_id == case.contact_id, Message.kind == "counsellor"
            )
        ).all()
        assert [(m.direction, m.status, m.text) for m in sent] == [
            ("out", "sent", "مرحبا، أنا أمل. هل أنت في أمان الآن؟")
        ]
        assert case.status == "active"
        # she answers; the bot is silent and her message shows up for the counsellor
        db.add(Message(contact_id=case.contact_id, direction="in", text="نعم، شكرا", language="ar"))
        db.commit()
    expect(page.locator("#transcript .msg.in").last).to_contain_text("نعم، شكرا", timeout=10_000)

    page.get_by_label("New note").fill("She prefers to be contacted after 14:00.")
    page.get_by_role("button", name="Save note").click()
    expect(page.locator(".notes")).to_contain_text("after 14:00")
    page.screenshot(path=screenshots / "case.png", full_page=True)

    page.get_by_label("Referred to a service").check()
    page.get_by_label("Service she was referred to").fill("Lev Uden Vold")
    page.get_by_role("button", name=re.compile("^Resolve")).click()
    expect(page.get_by_role("status").first).to_contain_text("The case is resolved")
    with Session(engine) as db:
        case = db.get(Case, case_id)
        assert (case.status, case.outcome, case.referred_service) == (
            "resolved",
            "referred",
            "Lev Uden Vold",
        )
        last = db.scalars(
            select(Message).where(Message.contact_id == case.contact_id).order_by(Message.id.desc())
        ).first()
        assert last.kind == "notice"
        opened = db.scalars(
            select(AuditLog.action).where(AuditLog.case_id == case_id, AuditLog.username == "amal")
        ).all()
        assert "open" in opened and "resolve" in opened

    # a counsellor is refused the admin page
    page.goto(f"{url}/workspace/admin")
    expect(page.get_by_role("alert")).to_contain_text("does not have access")
    assert not errors, errors
    context.close()


def test_unauthorised_visitors_are_refused(chromium, site):
    url, engine, _ = site
    context = chromium.new_context()
    page = context.new_page()
    case_id = new_case(engine)
    for path in ("/workspace/queue", f"/workspace/cases/{case_id}", "/workspace/admin"):
        page.goto(url + path)
        expect(page).to_have_url(re.compile(r"/workspace/login"))
        expect(page.get_by_text("أحتاج")).to_have_count(0)
    r = page.request.post(
        f"{url}/workspace/cases/{case_id}/claim", form={"csrf": "x"}, max_redirects=0
    )
    assert r.status == 303
    with Session(engine) as db:
        assert db.get(Case, case_id).status == "waiting"
    context.close()


def test_admin_page_manages_counsellors_and_hours(chromium, site, screenshots):
    url, engine, _ = site
    context = chromium.new_context(viewport={"width": 1366, "height": 860})
    page = context.new_page()
    login(page, url, "root")
    page.goto(f"{url}/workspace/admin")
    expect(page.get_by_role("heading", name="Admin", exact=True)).to_be_visible()

    form = page.locator("form[action='/workspace/admin/users']")
    form.get_by_label("Username").fill("sahra")
    form.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    form.get_by_label("Somali").check()
    form.get_by_label("Violence and safety").check()
    form.get_by_label("Can take cases where she asked").check()
    form.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved")
    expect(page.locator("table").first).to_contain_text("sahra")

    page.get_by_label("Monday opens").fill("09:00")
    page.get_by_label("Monday closes").fill("16:00")
    page.get_by_role("button", name="Save opening hours").click()
    expect(page.get_by_label("Monday opens")).to_have_value("09:00")
    page.screenshot(path=screenshots / "admin.png", full_page=True)

    other = chromium.new_context().new_page()
    login(other, url, "sahra")
    expect(other.get_by_role("heading", name="Queue")).to_be_visible()
    context.close()
