"""An editor changes a service's phone number in a real browser (Chromium, headless) and the
bot's next answer through the real stack carries it, with no restart: the workspace flags
the button titles that still write the old number, she fixes them in the entry's draft,
publishes the service with it, and the action server swaps in the new content. A second
test restores the earlier versions, and the old number is back.

The stack is shared with the other end-to-end tests: whatever these tests publish is put
back at the end (the published content returns to the repository's versions)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from bot.storage.db import make_engine
from bot.workspace import auth
from knowledge import content
from tests.browser.conftest import chromium, screenshots  # noqa: F401, F811  (fixtures)

PASSWORD = "a long password"
HOTLINE = "violence-hotline-1888"
SERVICE = "lev_uden_vold"
QUESTION = "هل يوجد خط مساعدة للعنف في البيت"  # ar: is there a helpline for violence at home
INPUTS = {"title.en": "#title-en", "title.da": "#title-da"}


@pytest.fixture(scope="module")
def engine(stack):
    engine = make_engine(stack.database_url)
    with Session(engine) as db:
        auth.create_user(db, "eva", PASSWORD, role="editor", languages="da", display_name="Eva")
        db.commit()
    yield engine
    for kind, key in (("entry", HOTLINE), ("service", SERVICE)):  # as the other tests expect
        content.discard_draft(engine, kind, key)
        if content.current(engine, kind, key)[1] != content.history(engine, kind, key)[-1].data:
            content.restore(engine, kind, key, 1, "test teardown")
    engine.dispose()


def login(page, url):
    page.goto(f"{url}/workspace/login")
    page.get_by_label("Username").fill("eva")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def answer_with(chat, number: str, timeout_s: float = 10.0) -> tuple[str, float]:
    """Her answer's text once it carries `number`, and how long that took."""
    start = time.monotonic()
    for attempt in range(1000):
        text = " ".join(
            r.get("text", "") for r in chat(f"content-e2e-{number}-{attempt}", QUESTION)
        )
        if number in text:
            return text, time.monotonic() - start
        assert time.monotonic() - start < timeout_s, f"no answer with {number} after {timeout_s}s"
        time.sleep(0.2)
    raise AssertionError("unreachable")


def test_an_editor_changes_a_phone_number_and_the_next_answer_carries_it(
    chromium,  # noqa: F811
    stack,
    chat,
    engine,
    screenshots,  # noqa: F811
):
    before, _ = answer_with(chat, "1888")
    assert "1889" not in before
    pids = {name: proc.pid for name, proc in stack.procs.items()}

    page = chromium.new_page()
    login(page, stack.gateway_url)
    page.get_by_role("link", name="Content", exact=True).click()
    page.locator(f"a[href='/workspace/content/services/{SERVICE}']").click()
    page.locator("#s-phone").fill("1889")
    page.get_by_role("button", name="Publish").click()

    # refused: the entry's titles still write 1888, in every language
    affected = page.locator(".affected li")
    expect(affected.first).to_contain_text("still writes the old number 1888")
    flagged = [c.inner_text() for c in page.locator(".affected li code").all()]
    assert "title.en" in flagged and "translations.ar.title" in flagged
    assert all(f.startswith("title.") or f.endswith(".title") for f in flagged)
    assert content.current(engine, "service", SERVICE)[1]["phone"] == "1888"  # not published

    page.locator(f".affected a[href='/workspace/content/entries/{HOTLINE}']").first.click()
    for loc in flagged:
        expect(page.locator(f"#err-{loc.replace('.', '-')}")).to_contain_text("1888")
        field = page.locator(INPUTS.get(loc) or f"#tr-{loc.split('.')[1]}-title")
        field.fill(field.input_value().replace("1888", "1889"))
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".notice").first).to_contain_text("Draft saved")
    expect(page.locator(".field-error")).to_have_count(0)

    page.goto(f"{stack.gateway_url}/workspace/content/services/{SERVICE}")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".notice").first).to_contain_text("Published")
    page.screenshot(path=str(screenshots / "content-service.png"), full_page=True)

    after, took = answer_with(chat, "1889")
    assert "1888" not in after, after  # the Arabic answer, title and text, all new
    assert took < 5.0
    assert {name: proc.pid for name, proc in stack.procs.items()} == pids  # no restart
    versions = content.history(engine, "entry", HOTLINE)
    assert (versions[0].version, versions[0].author) == (2, "Eva")


def test_an_editor_restores_the_previous_versions(chromium, stack, chat, engine):  # noqa: F811
    page = chromium.new_page()
    login(page, stack.gateway_url)
    for kinds, key in (("entries", HOTLINE), ("services", SERVICE)):
        page.goto(f"{stack.gateway_url}/workspace/content/{kinds}/{key}/versions")
        expect(page.locator("tr.version")).to_have_count(2)
        page.get_by_role("button", name="Restore version 1").click()
        expect(page.locator(".notice").first).to_contain_text("Restored")
        expect(page.locator("tr.version")).to_have_count(3)
        expect(page.locator("tr.version").first).to_contain_text("restored version 1")
    text, _ = answer_with(chat, "1888")
    assert "1889" not in text
