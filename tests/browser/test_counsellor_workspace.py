"""The counsellor workspace as a busy counsellor meets it (issue 15), in a real browser
(Chromium, headless) against the gateway on loopback with a SQLite file and a fake Telegram
Bot API:

- while a counsellor holds her case the bot is silent, but her first unanswered message gets
  ONE "your counsellor has your message" in her language, from the workspace's background
  chores; her messages sent while held are marked, and before resolving the counsellor sees
  which were never answered;
- a lost claim race says who took the case, inside the normal layout, with a way back;
- her words and Arabic answers keep their direction; times are on the 24-hour clock;
- the queue puts her own cases first (emergencies on top); an administrator's default view
  shows every waiting emergency.

Screenshots go to var/screenshots/ for a person to look at.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import outbox
from bot.referrals import create_case, queue
from bot.referrals.models import CannedReply, Case, User
from bot.settings import Settings
from bot.storage.db import make_engine, migrate
from bot.storage.models import Contact, Message
from bot.workspace import auth
from bot.workspace import cases as ws_cases
from common import texts
from common.vocab import LANGUAGES
from gateway.app import create_app
from tests.support.delivery import wait_until_delivered
from tests.support.fake_telegram import FakeTelegram
from tests.support.servers import serve
from tests.support.waiting import wait_for

PASSWORD = "a long password"
HASH_KEY = "counsellor-test-key"
SECRET = "s3cret-token_for-tests"
CHAT_ID = 55507788
HELD_NOTICE_AFTER_S = 2.0


@pytest.fixture
def site(sqlite_url):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine) as db:
        for username, name, role, langs in (
            ("amal", "Amal", "counsellor", "ar,en"),
            ("noor", "Noor Haddad", "counsellor", "ar"),
            ("root", "Admin", "admin", "da,en"),
        ):
            auth.create_user(
                db, username, PASSWORD, role=role, languages=langs, is_woman=True, display_name=name
            )
        db.commit()
    tg = FakeTelegram()
    with serve(tg.app) as tg_url:
        settings = Settings(
            hash_key=HASH_KEY,
            database_url=sqlite_url,
            telegram_mode="webhook",
            telegram_token="123456:TEST-token",
            telegram_secret=SECRET,
            telegram_api_url=tg_url,
            held_notice_after_s=HELD_NOTICE_AFTER_S,
        )
        app = create_app(settings)
        with serve(app) as url:
            yield url, engine, tg, app
    engine.dispose()


def her_hash(chat_id: int) -> str:
    """The pseudonym the gateway gives her Telegram chat (bot/core/pipeline.py)."""
    return hmac.new(HASH_KEY.encode(), f"telegram:{chat_id}".encode(), hashlib.sha256).hexdigest()


def make_case(
    engine,
    text: str = "أحتاج إلى التحدث مع امرأة",
    *,
    language: str = "ar",
    priority: str = "normal",
    minutes_ago: float = 0,
    chat_id: int | None = None,
    answer: str | None = None,
) -> int:
    """What the gateway does when she asks for a person on Telegram (and, with `answer`,
    what the bot had answered her before)."""
    with Session(engine) as db:
        c = Contact(
            channel="telegram",
            user_hash=her_hash(chat_id) if chat_id else f"h-{text}-{priority}-{minutes_ago}",
            language=language,
            address_enc=outbox.seal_address(str(chat_id or CHAT_ID), HASH_KEY),
        )
        db.add(c)
        db.flush()
        db.add(Message(contact_id=c.id, direction="in", kind="text", text=text, language=language))
        if answer:
            db.add(
                Message(
                    contact_id=c.id,
                    direction="out",
                    kind="text",
                    text=answer,
                    language=language,
                    status="sent",
                )
            )
        case_id = create_case(
            db,
            c,
            topic="violence",
            language=language,
            priority=priority,
            woman_counsellor=True,
            now=datetime.now(UTC) - timedelta(minutes=minutes_ago),
        ).case_id
        db.commit()
        return case_id


def claim_for(engine, username: str, case_id: int) -> None:
    with Session(engine) as db:
        user = db.scalar(select(User).where(User.username == username))
        assert queue.claim(db, user, case_id) is not None
        db.commit()


def login(page, url, username):
    page.goto(f"{url}/workspace/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def she_writes(url: str, tg: FakeTelegram, text: str) -> None:
    r = httpx.post(
        f"{url}/webhooks/telegram",
        json=tg.text_update(CHAT_ID, text),
        headers={"x-telegram-bot-api-secret-token": SECRET},
        timeout=10,
    )
    assert r.status_code == 200


def browser_page(chromium, **kw):
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, **kw)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def test_while_held_she_is_told_once_that_her_counsellor_has_her_message(
    chromium, site, screenshots
):
    url, engine, tg, app = site
    notice = texts.text("utter_held_notice", "ar")
    case_id = make_case(engine, chat_id=CHAT_ID)
    context, page, errors = browser_page(chromium)
    login(page, url, "amal")
    page.locator("#queue-rows tr", has_text=f"#{case_id}").get_by_role(
        "button", name="Claim"
    ).click()
    expect(page.get_by_role("status").first).to_contain_text("The case is yours")

    # she writes while held: the bot says nothing at once, then once "your counsellor has it"
    she_writes(url, tg, "هل أنتِ هناك؟")
    wait_until_delivered(engine)
    assert tg.chat(CHAT_ID) == [], "the bot stays silent while a counsellor holds the case"
    wait_for(lambda: tg.chat(CHAT_ID), timeout=15, what="the held-message notice")
    assert [m["text"] for m in tg.chat(CHAT_ID)] == [notice]

    # she writes again before the counsellor answers: nothing more
    she_writes(url, tg, "أنا خائفة قليلا")
    wrote = time.monotonic()
    rounds = app.state.workspace_rounds
    wait_for(
        lambda: (
            time.monotonic() - wrote > 2 * HELD_NOTICE_AFTER_S
            and app.state.workspace_rounds >= rounds + 3
        ),
        timeout=15,
        what="the chores to run past the notice time",
    )
    wait_until_delivered(engine)
    assert [m["text"] for m in tg.chat(CHAT_ID)] == [notice]

    # the counsellor sees both marked, and that neither was answered
    held = page.locator("#transcript .msg.in.while-held")
    expect(held).to_have_count(2, timeout=10_000)
    expect(held.first).to_contain_text("while held · not answered")
    expect(page.locator("#transcript .k-held_notice")).to_contain_text(notice)
    unanswered = page.locator("#unanswered")
    expect(unanswered).to_be_visible()
    expect(unanswered).to_contain_text("2 of her messages")
    expect(unanswered).to_contain_text("أنا خائفة قليلا")
    page.screenshot(path=screenshots / "case-held-unanswered.png", full_page=True)

    page.get_by_label("Your reply to her").fill("أنا هنا. هل أنتِ في أمان الآن؟")
    page.get_by_role("button", name="Send to her").click()
    expect(page.get_by_role("status").first).to_contain_text("on its way")
    expect(page.locator("#unanswered")).to_be_hidden()
    expect(page.locator("#transcript .msg.in.while-held").first).to_have_text(
        re.compile(r"while held(?! · not answered)")
    )

    # a new stretch after the counsellor wrote: one more notice for it, and at resolve the
    # counsellor sees the message nobody answered
    she_writes(url, tg, "هل يمكنني الذهاب إلى krisecenter؟")
    wait_for(
        lambda: [m["text"] for m in tg.chat(CHAT_ID)].count(notice) == 2,
        timeout=15,
        what="the notice for the new stretch",
    )
    expect(page.locator("#unanswered")).to_contain_text("1 of her messages", timeout=10_000)
    expect(page.locator("#unanswered li")).to_have_count(1)
    expect(page.locator("#unanswered li")).to_contain_text("krisecenter")
    page.screenshot(path=screenshots / "case-held-resolve.png", full_page=True)
    page.get_by_label("Resolved in the conversation").check()
    page.get_by_role("button", name=re.compile("^Resolve")).click()
    expect(page.get_by_role("status").first).to_contain_text("The case is resolved")
    assert [m["text"] for m in tg.chat(CHAT_ID)][:4] == [
        notice,
        "أنا هنا. هل أنتِ في أمان الآن؟",
        notice,
        texts.text("utter_handoff_resolved", "ar"),
    ]
    with Session(engine) as db:
        contact_id = db.get(Case, case_id).contact_id
        kinds = db.scalars(
            select(Message.kind).where(Message.contact_id == contact_id, Message.direction == "out")
        ).all()
    assert kinds.count("held_notice") == 2
    assert not errors, errors
    context.close()


def test_a_lost_claim_race_says_who_took_the_case(chromium, site, screenshots):
    url, engine, _, _ = site
    case_id = make_case(engine)
    context, page, errors = browser_page(chromium)
    login(page, url, "amal")
    page.goto(f"{url}/workspace/cases/{case_id}")
    claim = page.get_by_role("button", name="Claim this case")
    expect(claim).to_be_visible()

    other, colleague, _ = browser_page(chromium)
    login(colleague, url, "noor")
    colleague.goto(f"{url}/workspace/cases/{case_id}")
    colleague.get_by_role("button", name="Claim this case").click()
    expect(colleague.get_by_role("status").first).to_contain_text("The case is yours")

    claim.click()  # a moment too late
    expect(page.get_by_role("heading", name="A colleague was quicker")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(
        f"Case #{case_id} was taken by a colleague: Noor Haddad claimed it at "
    )
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r" at \d\d:\d\d,"))
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Queue")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("link", name="Log in")).to_have_count(0)
    page.screenshot(path=screenshots / "claim-race-lost.png", full_page=True)
    page.get_by_role("link", name="Back to the queue").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    with Session(engine) as db:
        assert db.get(Case, case_id).counsellor.username == "noor"
    assert not errors, errors
    other.close()
    context.close()


def test_her_words_keep_their_direction_and_times_are_24_hour(chromium, site, screenshots):
    url, engine, _, _ = site
    answer = "*krisecenter* هو مكان آمن للنساء. هل تريدين رقم الهاتف؟"
    case_id = make_case(engine, "krisecenter أين أجد؟", answer=answer, minutes_ago=3)
    claim_for(engine, "amal", case_id)
    # en-US: the locale in which Chromium shows a time field as "04:00 PM"
    context, page, errors = browser_page(chromium, locale="en-US")
    login(page, url, "amal")
    page.goto(f"{url}/workspace/cases/{case_id}")
    page.get_by_label("New note").fill("تفضل الاتصال بعد الساعة 14:00")
    page.get_by_role("button", name="Save note").click()
    expect(page.locator(".notes")).to_contain_text("14:00")

    def direction(locator):
        return locator.evaluate("e => getComputedStyle(e).direction")

    hers = page.locator("#transcript .msg.in p")
    expect(hers).to_have_count(1)
    expect(hers).to_have_attribute("dir", "auto")
    # an Arabic answer that begins with a Danish term is still right to left ("?" at its end)
    bot = page.locator("#transcript .msg.out p").first
    assert direction(bot) == "rtl"
    for field in ("Your reply to her", "New note"):
        expect(page.get_by_label(field)).to_have_attribute("dir", "auto")
    expect(page.locator(".notes p").first).to_have_attribute("dir", "auto")
    assert direction(page.locator(".notes p").first) == "rtl"
    for when in page.locator("#transcript .when").all_inner_texts():
        assert re.fullmatch(r"\d\d\.\d\d\. \d\d:\d\d", when), when
    page.screenshot(path=screenshots / "case-rtl.png", full_page=True)
    context.close()

    context, page, errors2 = browser_page(chromium, locale="en-US")
    login(page, url, "root")
    page.goto(f"{url}/workspace/admin")
    opens, closes = page.get_by_label("Tuesday opens"), page.get_by_label("Tuesday closes")
    opens.fill("08:30")
    closes.fill("16:00")
    page.get_by_role("button", name="Save opening hours").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved")
    expect(closes).to_have_value("16:00")
    # what she sees is what is stored: a plain 24-hour field, never a 12-hour time picker
    for field in (opens, closes):
        assert field.get_attribute("type") != "time"
    body = page.locator("main").inner_text()
    assert not re.search(r"\d\s?(AM|PM)\b", body), "12-hour times on the admin page"
    page.screenshot(path=screenshots / "admin-hours-24h.png", full_page=True)
    assert not errors and not errors2, errors + errors2
    context.close()


def test_the_queue_puts_her_own_cases_first_and_admins_see_every_emergency(
    chromium, site, screenshots
):
    url, engine, _, _ = site
    # all younger than the escalation time (15 min), which would make a normal case high
    old_normal = make_case(engine, "old normal", minutes_ago=12)
    high = make_case(engine, "high", priority="high", minutes_ago=10)
    emergency = make_case(engine, "emergency", priority="emergency", minutes_ago=5)
    mine_normal = make_case(engine, "mine normal", minutes_ago=11)
    mine_emergency = make_case(engine, "mine emergency", priority="emergency", minutes_ago=2)
    somali = make_case(engine, "somali", language="so", priority="emergency", minutes_ago=8)
    for case_id in (mine_normal, mine_emergency):
        claim_for(engine, "amal", case_id)

    context, page, errors = browser_page(chromium)
    login(page, url, "amal")
    rows = page.locator("#queue-rows tr")
    expected = [mine_emergency, mine_normal, emergency, high, old_normal]
    expect(rows).to_have_count(len(expected))
    order = [int(re.search(r"#(\d+)", t).group(1)) for t in rows.all_inner_texts()]
    assert order == expected
    page.screenshot(path=screenshots / "queue-mine-first.png", full_page=True)
    context.close()

    context, page, errors2 = browser_page(chromium)
    login(page, url, "root")  # Danish and English only: the emergencies are in other languages
    expect(page.get_by_text("2 waiting")).to_be_visible()
    rows = page.locator("#queue-rows tr")
    expect(rows).to_have_count(2)
    order = [int(re.search(r"#(\d+)", t).group(1)) for t in rows.all_inner_texts()]
    assert order == [somali, emergency]  # both emergencies: the longest waiting first
    for row in rows.all():
        expect(row).to_contain_text("Emergency")
        expect(row.get_by_role("link", name="Open")).to_be_visible()
    page.screenshot(path=screenshots / "queue-admin-emergencies.png", full_page=True)
    assert not errors and not errors2, errors + errors2
    context.close()


def test_an_edited_canned_reply_keeps_its_language(chromium, site, screenshots):
    url, engine, _, _ = site
    with Session(engine) as db:
        db.add(CannedReply(language="ar", title="Greeting", text="مرحبا."))
        db.commit()
    case_id = make_case(engine)
    claim_for(engine, "amal", case_id)
    context, page, errors = browser_page(chromium)
    login(page, url, "root")
    page.goto(f"{url}/workspace/canned")
    row = page.locator("tbody tr", has_text="Greeting")
    row.get_by_text("Edit").click()
    row.get_by_label("Title (for counsellors)").fill("Greeting, with her safety")
    row.get_by_label("Text (sent to her)").fill("مرحبا، أنا مستشارة. هل أنتِ في أمان الآن؟")
    row.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved")
    row = page.locator("tbody tr", has_text="Greeting, with her safety")
    expect(row).to_contain_text("Arabic")
    expect(row).to_contain_text("هل أنتِ في أمان الآن؟")
    page.screenshot(path=screenshots / "canned-edited.png", full_page=True)
    context.close()

    context, page, errors2 = browser_page(chromium)
    login(page, url, "amal")
    page.goto(f"{url}/workspace/cases/{case_id}")
    page.get_by_label("Canned reply in Arabic").select_option(label="Greeting, with her safety")
    expect(page.get_by_label("Your reply to her")).to_have_value(
        "مرحبا، أنا مستشارة. هل أنتِ في أمان الآن؟"
    )
    with Session(engine) as db:
        edited = select(CannedReply.language).where(CannedReply.title.startswith("Greeting"))
        assert db.scalars(edited).all() == ["ar"]
    assert not errors and not errors2, errors + errors2
    context.close()


def test_a_transfer_goes_only_to_someone_who_can_read_her_and_she_is_told(
    chromium, site, screenshots
):
    url, engine, tg, _ = site
    with Session(engine) as db:
        auth.create_user(
            db, "sahra", PASSWORD, languages="so,en", is_woman=True, display_name="Sahra"
        )
        db.commit()
    case_id = make_case(engine)  # Arabic, violence, she asked for a woman
    claim_for(engine, "amal", case_id)
    context, page, errors = browser_page(chromium)
    login(page, url, "amal")
    page.goto(f"{url}/workspace/cases/{case_id}")

    colleague = page.get_by_label("To a colleague")
    sahra = colleague.locator("option", has_text="Sahra")
    expect(sahra).to_be_disabled()
    expect(sahra).to_contain_text("does not write Arabic")
    expect(colleague.locator("option", has_text="Noor Haddad")).to_be_enabled()

    page.get_by_label("or to the queue of another language she reads").select_option("en")
    page.get_by_label("Why (kept as a note for the next counsellor)").fill(
        "she reads English better than Arabic script"
    )
    page.get_by_role("button", name="Transfer").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "She has been told that another counsellor will answer"
    )
    told = texts.text("utter_handoff_transferred", "ar")  # in her language, not English
    wait_for(lambda: [m["text"] for m in tg.chat(CHAT_ID)] == [told], 10, "the transfer notice")

    other, english, _ = browser_page(chromium)
    login(english, url, "sahra")
    english.goto(f"{url}/workspace/cases/{case_id}")
    expect(english.locator("#write-in")).to_have_text("write to her in English")
    expect(
        english.get_by_text("Transferred to the English queue: she reads English")
    ).to_be_visible()
    english.screenshot(path=screenshots / "transferred.png", full_page=True)
    with Session(engine) as db:
        case = db.get(Case, case_id)
        assert (case.language, case.write_in, case.status) == ("ar", "en", "waiting")
    assert not errors, errors
    other.close()
    context.close()


def test_a_woman_who_comes_back_brings_her_history_and_each_message_names_its_writer(
    chromium, site, screenshots
):
    url, engine, tg, _ = site
    first = make_case(engine, chat_id=CHAT_ID)
    with Session(engine) as db:  # Amal answered and resolved her first case, with a note
        amal = db.scalar(select(User).where(User.username == "amal"))
        ws_cases.claim(db, amal, first)
        ws_cases.reply(db, amal, first, "مرحبا، أنا أمل.")
        ws_cases.note(db, amal, first, "She is looking for a shelter in Aarhus.")
        ws_cases.resolve(db, amal, first, "referred", "Lev Uden Vold")
        db.commit()
    she_writes(url, tg, "أريد التحدث مع المستشارة مرة أخرى")
    with Session(engine) as db:
        contact = db.get(Case, first).contact
        second = create_case(db, contact, topic="violence", language="ar").case_id
        db.commit()
    assert second != first

    context, page, errors = browser_page(chromium)
    login(page, url, "noor")
    page.goto(f"{url}/workspace/cases/{second}")
    earlier = page.locator("#earlier")
    expect(earlier).to_contain_text(f"Case #{first}")
    expect(earlier).to_contain_text("Referred to a service (Lev Uden Vold)")
    expect(earlier).to_contain_text("She is looking for a shelter in Aarhus.")
    marks = page.locator("#transcript li.sep")
    expect(marks).to_have_count(3)
    expect(marks.nth(0)).to_contain_text(f"Case #{first} began")
    expect(marks.nth(1)).to_contain_text(f"Case #{first} ended: Referred to a service")
    expect(marks.nth(2)).to_contain_text(f"This case (#{second}) began")
    written = page.locator("#transcript .k-counsellor .who")
    expect(written).to_have_text(["Amal"])  # her display name, not "Counsellor" or the login
    page.screenshot(path=screenshots / "history.png", full_page=True)
    assert not errors, errors
    context.close()


def test_the_team_lead_sees_cases_waiting_times_outcomes_and_referrals(chromium, site, screenshots):
    url, engine, _, _ = site
    first = make_case(engine, "أحتاج مساعدة", minutes_ago=30)
    second = make_case(engine, "أريد التحدث مع أحد", minutes_ago=10)
    make_case(engine, "Waan u baahanahay caawimaad", language="so")
    with Session(engine) as db:
        amal = db.scalar(select(User).where(User.username == "amal"))
        for case_id, outcome, service in (
            (first, "referred", "Lev Uden Vold"),
            (second, "resolved_here", None),
        ):
            ws_cases.claim(db, amal, case_id)
            ws_cases.reply(db, amal, case_id, "مرحبا")
            ws_cases.resolve(db, amal, case_id, outcome, service)
        db.commit()
    context, page, errors = browser_page(chromium)
    login(page, url, "root")
    page.get_by_role("link", name="Team statistics").click()
    expect(page.locator("#total")).to_have_text("3 cases opened.")
    expect(page.locator("#t-languages")).to_contain_text("Arabic")
    expect(page.locator("#t-languages tr", has_text="Arabic").locator("td").nth(1)).to_have_text(
        "2"
    )
    expect(page.locator("#t-languages tr", has_text="Somali").locator("td").nth(1)).to_have_text(
        "1"
    )
    expect(page.locator("#to-claim")).to_contain_text("over 2 claimed cases")
    expect(page.locator("#t-to_claim tr", has_text="15-60 min").locator("td").nth(1)).to_have_text(
        "1"
    )
    expect(
        page.locator("#t-outcomes tr", has_text="Referred to a service").locator("td").nth(1)
    ).to_have_text("1")
    expect(page.locator("#t-services")).to_contain_text("Lev Uden Vold")
    plots = page.locator("img.plot")
    expect(plots).to_have_count(7)
    for i in range(7):
        plots.nth(i).scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete", arg=plots.nth(i).element_handle())
        assert plots.nth(i).evaluate("img => img.naturalWidth") > 100
    page.screenshot(path=screenshots / "team-stats.png", full_page=True)
    assert not errors, errors
    context.close()


def test_a_fresh_install_has_starters_and_a_counsellor_keeps_her_own_replies(
    chromium, site, screenshots
):
    url, engine, _, _ = site
    with Session(engine) as db:  # migration 0015: a starter set in every first language
        starters = db.scalars(select(CannedReply).where(CannedReply.owner_id.is_(None))).all()
        assert {r.language for r in starters} == set(LANGUAGES)
        assert not any(r.reviewed for r in starters)
    case_id = make_case(engine)
    claim_for(engine, "amal", case_id)
    context, page, errors = browser_page(chromium)
    login(page, url, "amal")
    page.get_by_role("link", name="Canned replies").click()
    safe = page.locator("tbody tr", has_text="Are you safe right now?").filter(has_text="Arabic")
    expect(safe).to_contain_text("machine-translated, not reviewed")
    expect(safe.get_by_text("Edit")).to_have_count(0)  # shared: editors and admins change it
    page.get_by_label("Language", exact=True).select_option("ar")
    page.get_by_label("Title (for counsellors)").fill("My hello")
    page.get_by_label("Text (sent to her)").fill("مرحبا، أنا أمل من المنظمة.")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved")
    mine = page.locator("section", has=page.get_by_role("heading", name="My replies"))
    expect(mine.locator("tbody tr", has_text="My hello")).to_be_visible()

    page.goto(f"{url}/workspace/cases/{case_id}")
    options = page.get_by_label("Canned reply in Arabic").locator("option")
    expect(options.nth(1)).to_have_text("My hello")  # her own first, then the shared ones
    expect(options.filter(has_text="Are you safe right now?")).to_have_count(1)
    expect(options.filter(has_text="Hej")).to_have_count(0)  # Danish is not offered
    page.screenshot(path=screenshots / "canned-own.png", full_page=True)
    context.close()

    context, page, _ = browser_page(chromium)  # a colleague does not see Amal's own
    login(page, url, "noor")
    page.goto(f"{url}/workspace/canned")
    expect(page.get_by_text("My hello")).to_have_count(0)
    context.close()

    context, page, _ = browser_page(chromium)  # the admin reviews a starter
    login(page, url, "root")
    page.goto(f"{url}/workspace/canned")
    safe = page.locator("tbody tr", has_text="Are you safe right now?").filter(has_text="Arabic")
    safe.get_by_text("Edit").click()
    safe.get_by_label("has checked this text").check()
    safe.get_by_role("button", name="Save changes").click()
    safe = page.locator("tbody tr", has_text="Are you safe right now?").filter(has_text="Arabic")
    expect(safe).not_to_contain_text("machine-translated")
    assert not errors, errors
    context.close()
