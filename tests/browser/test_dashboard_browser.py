"""The editors' dashboard in a real browser (Chromium, headless): after a few conversations
through a real gateway, every plot loads as an image under the workspace's Content Security
Policy, and the page has the figures. Screenshot: var/screenshots/dashboard.png."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.integration.test_dashboard import counted, site  # noqa: F401  (fixture)
from tests.integration.test_unanswered import PASSWORD, editor, say


def test_every_plot_loads_in_the_browser(chromium, site, screenshots):  # noqa: F811
    url, engine, rasa = site
    card = counted("answered", "ar", "health-card-sundhedskort", "health")
    say(url, rasa, "w1", "ما هي البطاقة الصحية الصفراء", {"text": "..."}, card)
    say(
        url, rasa, "w2", "hvad koster tolk", {"text": "..."}, counted("dont_know", "da", None, None)
    )
    editor(url, engine)  # the account
    page = chromium.new_page()
    page.goto(f"{url}/workspace/login")
    page.get_by_label("Username").fill("eva")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="What the bot did, per language")).to_be_visible()
    plots = page.locator("img.plot")
    expect(plots).to_have_count(6)
    for i in range(6):
        img = plots.nth(i)
        img.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete", arg=img.element_handle())
        assert img.evaluate("img => img.naturalWidth") > 100, img.get_attribute("src")
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)
