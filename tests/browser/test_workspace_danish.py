"""The workspace in Danish (bot/workspace/i18n.py), in a real browser (Chromium, headless):

- a counsellor switches the header's language select to Dansk and the queue is Danish: the
  page's own words, the html lang, a case's status; the script's updates and a new case it
  adds write Danish too, never an English status word;
- the case page is Danish;
- her choice stays with her account through logging out and in again, and a colleague who
  did not choose still sees English.

Screenshots go to var/screenshots/ for a person to look at.
"""

# ruff: noqa: F811  (the `site` fixture is imported, then named by the tests)
from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.browser.test_counsellor_workspace import (  # noqa: F401
    PASSWORD,
    browser_page,
    claim_for,
    login,
    make_case,
    site,
)

POLL_S = 4.0  # workspace.js EVERY_MS
ENGLISH_STATUS = ("Waiting", "Claimed", "In conversation", "Resolved", "No contact", "Expired")
STATUS_CELL = 6  # the queue's columns: case, priority, language, topic, waiting, wishes, status


def test_a_counsellor_who_chooses_danish_works_in_danish_and_keeps_her_choice(
    chromium, site, screenshots
):
    url, engine, _, _ = site
    first = make_case(engine, "أحتاج مساعدة", minutes_ago=5)
    context, page, errors = browser_page(chromium)
    login(page, url, "amal")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_label("Language of the workspace").select_option(label="Dansk")
    page.get_by_role("button", name="Change").click()
    expect(page.get_by_role("heading", name="Kø", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "da")
    expect(page.get_by_label("Arbejdsrummets sprog")).to_have_value("da")
    row = page.locator(f"#queue-rows tr[data-id='{first}']")
    expect(row.locator("td").nth(STATUS_CELL)).to_have_text("Venter")
    expect(row.get_by_role("button", name="Tag sagen")).to_be_visible()
    expect(page.get_by_role("button", name="Tag den næste sag til mig")).to_be_visible()

    # a case that comes while she looks: the script builds its row and announces it in Danish
    second = make_case(engine, "أريد التحدث مع أحد", priority="high")
    new_row = page.locator(f"#queue-rows tr[data-id='{second}']")
    expect(new_row).to_be_visible(timeout=3 * POLL_S * 1000)
    expect(new_row.locator("td").nth(STATUS_CELL)).to_have_text("Venter")
    expect(new_row.get_by_role("button", name="Tag sagen")).to_be_visible()
    expect(new_row).to_contain_text("Høj")
    expect(new_row).to_contain_text("en kvindelig rådgiver")
    expect(page.locator("#queue-news")).to_have_text(f"Ny sag #{second}: Høj, Arabisk (العربية)")

    time.sleep(2.2 * POLL_S)  # two more of the script's updates
    for r in (row, new_row):
        expect(r.locator("td").nth(STATUS_CELL)).to_have_text("Venter")
    expect(page).to_have_title("(2) Kø · Rådgivernes arbejdsrum")  # written by the script
    expect(page.locator("#queue-status")).to_have_text(
        "2 venter · opdateres med få sekunders mellemrum"
    )
    shown = page.locator("main").inner_text()
    assert not [w for w in ENGLISH_STATUS if w in shown], shown
    page.screenshot(path=screenshots / "queue-danish.png", full_page=True)

    # the case page
    row.get_by_role("link", name=f"#{first}").click()
    expect(page.get_by_role("heading", name=f"Sag #{first}")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "da")
    expect(page.get_by_role("heading", name="Samtale")).to_be_visible()
    expect(page.get_by_role("heading", name="Om henvendelsen")).to_be_visible()
    expect(page.get_by_role("heading", name="Interne noter")).to_be_visible()
    expect(page.get_by_role("button", name="Tag denne sag")).to_be_visible()
    expect(page.locator("#case-status")).to_have_text("Venter")
    expect(page.locator(".transcript .who").first).to_have_text("Hun skrev")
    time.sleep(1.2 * POLL_S)  # the script's update of the case keeps it Danish
    expect(page.locator("#case-status")).to_have_text("Venter")
    page.screenshot(path=screenshots / "case-danish.png", full_page=True)

    # her choice is kept with her account
    page.get_by_role("button", name="Log ud").click()
    # the login page after she logged out is in her language too (this browser remembers)
    expect(page.get_by_role("status").first).to_have_text("Du er logget ud.")
    page.get_by_label("Brugernavn").fill("amal")
    page.get_by_label("Adgangskode").fill(PASSWORD)
    page.get_by_role("button", name="Log ind").click()
    expect(page.get_by_role("heading", name="Kø", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "da")
    expect(page.get_by_role("button", name="Log ud")).to_be_visible()
    assert not errors, errors
    context.close()

    # a colleague who did not choose stays in English
    context, page, errors = browser_page(chromium)
    login(page, url, "noor")
    expect(page.get_by_role("heading", name="Queue", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_label("Language of the workspace")).to_have_value("en")
    expect(
        page.locator(f"#queue-rows tr[data-id='{first}']").locator("td").nth(STATUS_CELL)
    ).to_have_text("Waiting")
    time.sleep(1.2 * POLL_S)
    expect(
        page.locator(f"#queue-rows tr[data-id='{first}']").locator("td").nth(STATUS_CELL)
    ).to_have_text("Waiting")
    assert not errors, errors
    context.close()
