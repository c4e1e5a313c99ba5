"""The workspace under its Content-Security-Policy, in a real browser: a counsellor works the
queue (a case appears live, she claims it, puts a canned reply in the box, sends it, and her
message's delivery state updates) and Chromium reports no policy violation, on the console or
as a `securitypolicyviolation` event. Then an inline script is injected on purpose, to show
that the policy blocks it and that this test would see a violation.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_workspace_browser import login, new_case, site  # noqa: F401  (fixture)

CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
# runs in every page before its own scripts; not itself subject to the page's policy
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", e => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def violations(page) -> list[str]:
    return page.evaluate("window.__violations")


def test_working_the_queue_breaks_no_content_security_policy(chromium, site):  # noqa: F811
    url, engine, tg = site
    context = chromium.new_context()
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    console = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))

    first = page.goto(f"{url}/workspace/login")
    assert first.headers["content-security-policy"] == CSP
    assert violations(page) == []
    login(page, url, "amal")
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    case_id = new_case(engine)
    row = page.locator("#queue-rows tr", has_text=f"#{case_id}")
    expect(row).to_be_visible(timeout=10_000)  # the polling script ran
    assert violations(page) == []
    row.get_by_role("button", name="Claim").click()  # a form the script built
    expect(page.get_by_role("status").first).to_contain_text("The case is yours")
    page.get_by_label("Canned reply in Arabic").select_option(label="Greeting")
    expect(page.get_by_label("Your reply to her")).to_have_value(
        "مرحبا، أنا مستشارة. أنا هنا لمساعدتك."
    )  # the script's change handler
    page.get_by_role("button", name="Send to her").click()
    expect(page.locator("#transcript .k-counsellor .delivery")).to_contain_text(
        re.compile("^(sent|delivered|read)$"), timeout=10_000
    )  # the transcript's polling
    assert violations(page) == []
    assert not [line for line in console if "Content Security Policy" in line], console

    # the check can fail: an inline script is refused, and reported both ways
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            """() => { const s = document.createElement("script");
                       s.textContent = "window.__ran = true"; document.body.append(s); }"""
        )
    page.wait_for_function("window.__violations.length > 0")
    assert page.evaluate("window.__ran") is None
    assert violations(page)[0].startswith("script-src")
    context.close()
