"""The workspace for keyboard, screen-reader and phone users (issue 15), in a real browser
(Chromium, headless):

- the queue updates in place: a focused Claim button keeps the focus through updates, also
  when a new case arrives, and the new case is announced in a polite live region;
- a counsellor claims, replies and resolves with the keyboard only;
- at 375 px the queue is one card per case and the admin page fits, every action on screen;
- axe-core (bundled with axe-playwright-python, injected by the test: no CDN) finds no
  serious or critical violation on the queue, a case, the admin page, content and dashboard.

Screenshots go to var/screenshots/ for a person to look at.
"""

# ruff: noqa: F811  (the `site` fixture is imported, then named by the tests)
from __future__ import annotations

import time

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from bot.referrals.models import Case
from bot.workspace import auth
from tests.browser.test_counsellor_workspace import (  # noqa: F401
    PASSWORD,
    browser_page,
    claim_for,
    login,
    make_case,
    site,
)

POLL_S = 4.0  # workspace.js EVERY_MS


def test_the_queue_updates_without_taking_the_focus_and_announces_a_new_case(
    chromium,
    site,
):
    url, engine, _, _ = site
    first = make_case(engine, "أحتاج مساعدة", minutes_ago=5)
    context, page, errors = browser_page(chromium)
    login(page, url, "amal")
    claim = page.locator(f"tr[data-id='{first}']").get_by_role("button", name="Claim")
    claim.focus()
    time.sleep(2.2 * POLL_S)  # two updates with nothing changed
    assert claim.evaluate("b => b === document.activeElement"), "focus lost with nothing new"

    second = make_case(engine, "أريد التحدث مع أحد", priority="high")  # sorts above it
    new_row = page.locator(f"tr[data-id='{second}']")
    expect(new_row).to_be_visible(timeout=3 * POLL_S * 1000)
    expect(page.locator("#queue-news")).to_have_text(f"New case #{second}: High, Arabic (العربية)")
    assert claim.evaluate("b => b === document.activeElement"), "focus lost when a case came"
    rows = page.locator("#queue-rows tr[data-id]")
    expect(rows.first).to_have_attribute("data-id", str(second))  # the order followed
    page.keyboard.press("Enter")  # still on her Claim: it claims the first case
    expect(page.get_by_role("status").first).to_contain_text("The case is yours")
    with Session(engine) as db:
        assert db.get(Case, first).counsellor.username == "amal"
    assert not errors, errors
    context.close()


def tab_to(page, locator, limit: int = 80) -> None:
    """Presses Tab until `locator` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if locator.evaluate("e => e === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{locator} never got the focus by Tab")


def test_a_counsellor_claims_replies_and_resolves_with_the_keyboard_only(
    chromium,
    site,
    screenshots,
):
    url, engine, _, _ = site
    case_id = make_case(engine)
    context, page, errors = browser_page(chromium)
    login(page, url, "amal")
    tab_to(page, page.locator(f"tr[data-id='{case_id}']").get_by_role("button", name="Claim"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("The case is yours")

    tab_to(page, page.get_by_label("Your reply to her"))
    page.keyboard.type("مرحبا، أنا أمل. أنا هنا لأساعدك.")
    tab_to(page, page.get_by_role("button", name="Send to her"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("on its way")

    resolved_here = page.get_by_label("Resolved in the conversation")
    tab_to(page, page.get_by_role("radio").first)  # the outcomes are one radio group
    for _ in range(3):
        if resolved_here.is_checked():
            break
        page.keyboard.press("ArrowDown")
    assert resolved_here.is_checked()
    tab_to(page, page.get_by_role("button", name="Resolve: the bot answers her again"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("The case is resolved")
    page.screenshot(path=screenshots / "keyboard-resolved.png", full_page=True)
    with Session(engine) as db:
        case = db.get(Case, case_id)
        assert case.status == "resolved" and case.first_reply_at is not None
    assert not errors, errors
    context.close()


def test_at_375_px_the_queue_is_cards_and_every_action_is_on_screen(
    chromium,
    site,
    screenshots,
):
    url, engine, _, _ = site
    for i in range(3):
        make_case(engine, f"أحتاج مساعدة {i}", minutes_ago=i)
    context, page, errors = browser_page(chromium)
    context.close()
    context = chromium.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    page = context.new_page()
    login(page, url, "amal")
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    for button in page.get_by_role("button", name="Claim").all():
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375, box
    expect(page.locator("#queue-rows td[data-label='Language']").first).to_be_visible()
    page.screenshot(path=screenshots / "queue-375.png", full_page=True)

    context.close()
    context = chromium.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    page = context.new_page()
    login(page, url, "root")
    page.goto(f"{url}/workspace/admin")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    edit = page.get_by_text("Edit amal")
    edit.scroll_into_view_if_needed()
    box = edit.bounding_box()
    assert box and box["x"] + box["width"] <= 375, box
    page.screenshot(path=screenshots / "admin-375.png", full_page=True)
    context.close()


def serious(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_axe_finds_no_serious_violation_on_the_workspace_pages(chromium, site):
    url, engine, _, _ = site
    with Session(engine) as db:
        auth.create_user(db, "eva", PASSWORD, role="editor", languages="da", display_name="Eva")
        db.commit()
    case_id = make_case(engine, answer="مرحبا")
    claim_for(engine, "amal", case_id)
    found = {}
    context, page, _ = browser_page(chromium)
    login(page, url, "amal")
    for path in ("/workspace/queue", f"/workspace/cases/{case_id}"):
        page.goto(url + path)
        found[path] = serious(page)
    context.close()
    context, page, _ = browser_page(chromium)
    login(page, url, "root")
    page.goto(url + "/workspace/admin")
    found["/workspace/admin"] = serious(page)
    context.close()
    context, page, _ = browser_page(chromium)
    login(page, url, "eva")
    for path in (
        "/workspace/content",
        "/workspace/content/entries/violence-hotline-1888",
        "/workspace/content/services/lev_uden_vold",
        "/workspace/dashboard",
        "/workspace/unanswered",
    ):
        page.goto(url + path)
        found[path] = serious(page)
    context.close()
    assert found == {path: [] for path in found}, found


# The browser's Notification and Web Audio, recorded: headless Chromium shows neither.
RECORDER = """
window.__notes = []; window.__beeps = 0;
class FakeNotification {
  constructor(title, options) { window.__notes.push({ title, body: options.body }); }
  static requestPermission() { return Promise.resolve("granted"); }
}
FakeNotification.permission = "granted";
window.Notification = FakeNotification;
class FakeAudio {
  constructor() { this.currentTime = 0; this.destination = {}; }
  createOscillator() {
    const start = () => { window.__beeps += 1; };
    return { frequency: {}, connect: n => n, start, stop: () => {} };
  }
  createGain() { return { gain: {}, connect: n => n }; }
}
window.AudioContext = FakeAudio;
"""


def test_a_new_case_is_announced_as_she_chose_and_an_emergency_always(chromium, site):
    url, engine, _, _ = site
    case_id = make_case(engine, "أحتاج مساعدة")
    claim_for(engine, "amal", case_id)
    context, page, errors = browser_page(chromium)
    page.add_init_script(RECORDER)
    login(page, url, "amal")
    page.goto(f"{url}/workspace/cases/{case_id}")  # working on a case, not the queue
    page.get_by_label("Your reply to her").click()  # she has used the page: sound may play
    notes = lambda: page.evaluate("window.__notes")  # noqa: E731
    time.sleep(11)  # the first look records what waits: nothing is new
    quiet = make_case(engine, "سؤال عادي")
    time.sleep(11)
    assert notes() == [] and page.evaluate("window.__beeps") == 0  # she switched nothing on

    urgent = make_case(engine, "أنا في خطر", priority="emergency")
    page.wait_for_function("() => window.__notes.length > 0", timeout=15_000)
    assert notes() == [
        {"title": f"EMERGENCY: new case #{urgent}", "body": "Emergency · AR · violence"}
    ]
    assert page.evaluate("window.__beeps") == 3  # the emergency's three tones

    page.goto(f"{url}/workspace/queue")  # she switches the desktop notification on
    page.get_by_label("with a desktop notification").check()
    page.goto(f"{url}/workspace/cases/{case_id}")
    normal = make_case(engine, "أريد أن أسأل", priority="high")
    page.wait_for_function("() => window.__notes.length > 0", timeout=15_000)
    assert [n["title"] for n in notes()] == [f"New case #{normal}"]
    assert quiet not in (urgent, normal)
    assert not errors, errors
    context.close()
