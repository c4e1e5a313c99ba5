"""An editor sees what the bot could not answer, in a real browser (Chromium, headless): a
test conversation goes through the gateway (REST on loopback, a scripted Rasa whose answers
carry the actions' `unanswered` directive), the editor logs in, follows "Unanswered questions"
and finds the two similar questions in one group, the other alone, then sets the group aside.
A screenshot goes to var/screenshots/unanswered.png for a person to look at.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from bot.settings import Settings
from bot.storage.db import make_engine, migrate
from bot.workspace import auth
from gateway.app import create_app
from tests.support.fake_rasa import FakeActions, FakeRasa
from tests.support.servers import serve

PASSWORD = "a long password"
DENTIST = "hvad koster det at gå til tandlæge"
DENTIST_AGAIN = "hvad koster en tandlæge"
LIBRARY = "hvornår er biblioteket i Aarhus åbent om søndagen"


@pytest.fixture
def site(sqlite_url):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine) as db:
        auth.create_user(db, "eva", PASSWORD, role="editor", languages="da", display_name="Eva")
        db.commit()
    rasa, actions = FakeRasa(), FakeActions()
    with serve(rasa.app) as rasa_url, serve(actions.app) as action_url:
        settings = Settings(
            hash_key="browser-test-key",
            database_url=sqlite_url,
            rasa_url=rasa_url,
            action_server_url=action_url,
            rasa_timeout_s=5,
        )
        with serve(create_app(settings)) as url:
            yield url, rasa
    engine.dispose()


def asked_back(url: str, rasa: FakeRasa, sender: str, message: str) -> None:
    """She asks; the bot asks back which answer she means (actions/answer.py's tie)."""
    rasa.replies = [
        {"recipient_id": sender, "text": "Hvilket af disse mener du?"},
        {
            "recipient_id": sender,
            "custom": {
                "directive": {
                    "kind": "unanswered",
                    "reason": "clarify",
                    "language": "da",
                    "entry_id": "health-care-costs",
                }
            },
        },
    ]
    r = httpx.post(
        f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=10
    )
    assert r.status_code == 200


def test_an_editor_sees_the_questions_grouped_and_sets_a_group_aside(chromium, site, screenshots):
    url, rasa = site
    asked_back(url, rasa, "hana", DENTIST)
    asked_back(url, rasa, "samira", DENTIST_AGAIN)
    asked_back(url, rasa, "samira", LIBRARY)

    context = chromium.new_context(viewport={"width": 1366, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/workspace/login")
    page.get_by_label("Username").fill("eva")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Unanswered questions").click()

    expect(page.get_by_role("heading", name="Unanswered questions")).to_be_visible()
    rows = page.locator("tr.group")
    expect(rows).to_have_count(2)
    dentist = rows.filter(has_text=DENTIST)
    expect(dentist).to_contain_text(DENTIST_AGAIN)
    expect(dentist.locator("td.size")).to_have_text("2")
    expect(dentist).to_contain_text("asked back")
    expect(dentist).not_to_contain_text(LIBRARY)
    expect(rows.filter(has_text=LIBRARY).locator("td.size")).to_have_text("1")
    expect(dentist.get_by_role("button", name="Add as example questions")).to_be_visible()
    expect(dentist.get_by_role("link", name="New entry from these")).to_be_visible()
    page.screenshot(path=screenshots / "unanswered.png", full_page=True)

    dentist.get_by_role("button", name="Set aside").click()
    expect(page.get_by_role("status")).to_contain_text("2 questions set aside")
    expect(page.locator("tr.group")).to_have_count(1)
    expect(page.locator("tr.group")).to_contain_text(LIBRARY)
    assert errors == []
    context.close()
