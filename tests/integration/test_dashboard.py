"""The editors' dashboard renders from real conversation data: women write through a real
gateway on loopback (a scripted Rasa whose answers carry the actions' directives), one
message signals danger, one woman is handed to a counsellor who answers her; the page then
shows those counts in its tables and each plot is an SVG."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy.orm import Session

from bot.referrals.models import User
from bot.workspace import auth
from bot.workspace.labels import language
from tests.integration.test_unanswered import KEY, editor, say
from tests.support.encrypted_gateway import data_key, encrypted_gateway

PASSWORD = "a long password"


def counted(outcome: str, language: str, entry_id: str | None, topic: str | None) -> dict:
    return {
        "custom": {
            "directive": {
                "kind": "answered",
                "outcome": outcome,
                "language": language,
                "entry_id": entry_id,
                "topic": topic,
            }
        }
    }


@pytest.fixture
def site(sqlite_url):
    with data_key(KEY), encrypted_gateway(sqlite_url, KEY) as (url, engine, rasa):
        yield url, engine, rasa


def cell(page: str, table: str, row: str) -> list[str]:
    body = re.search(rf'<table class="figures" id="t-{table}">(.*?)</table>', page, re.S).group(1)
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        ]
        if cells and cells[0] == row:
            return cells[1:]
    raise AssertionError(f"no row {row!r} in {table}")


def test_the_dashboard_counts_what_happened(site):
    url, engine, rasa = site
    card = counted("answered", "ar", "health-card-sundhedskort", "health")
    say(url, rasa, "w1", "ما هي البطاقة الصحية الصفراء", {"text": "Det gule kort ..."}, card)
    say(url, rasa, "w1", "وكيف أحصل عليها", {"text": "..."}, card)
    say(
        url,
        rasa,
        "w2",
        "hvad koster tolk",
        {"text": "Hvilken mener du?"},
        counted("asked_back", "da", "interpreter-fee-amounts", "health"),
    )
    say(
        url,
        rasa,
        "w3",
        "where can I park my bike",
        {"text": "I don't know"},
        counted("dont_know", "en", None, None),
    )
    say(url, rasa, "w3", "my husband says he will kill me tonight", {"text": "..."})  # the screen
    say(
        url,
        rasa,
        "w3",
        "I want to talk to a person",
        {"text": "A counsellor will write to you."},
        {"custom": {"directive": {"kind": "handoff", "topic": "violence", "priority": "high"}}},
    )
    with Session(engine, expire_on_commit=False) as db:
        cora = auth.create_user(db, "cora", PASSWORD, role="counsellor", languages="en")
        token = auth.create_token(db, db.get(User, cora.id))
        db.commit()
    api = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"})
    case = api.post("/api/v1/queue/claim").json()
    assert (
        api.post(
            f"/api/v1/cases/{case['id']}/reply", json={"text": "Hello, I am Cora."}
        ).status_code
        == 201
    )

    client, _ = editor(url, engine)
    page = client.get("/workspace/dashboard?days=7")
    assert page.status_code == 200
    text = page.text
    assert cell(text, "languages", language("ar")) == ["1"]  # one woman, two messages
    assert cell(text, "languages", language("en")) == ["1"]
    assert cell(text, "outcomes", language("ar"))[:1] == ["2"]  # answered twice
    english = cell(text, "outcomes", language("en"))
    assert english[3] == "1" and english[5] == "1"  # "I don't know", the emergency numbers
    assert cell(text, "outcomes", language("da"))[2] == "1"  # asked back
    assert cell(text, "topics", "Health") == ["2"]  # asking back is not an answer
    assert "3 in all" in text  # three women wrote today
    assert re.search(r"first reply: median \d+ min", text)
    assert "1 cases opened" in text
    for name in ("conversations", "languages", "outcomes", "topics", "handoffs", "stale"):
        svg = client.get(f"/workspace/dashboard/{name}.svg?days=7")
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert svg.text.lstrip().startswith("<?xml") and "<svg" in svg.text
    assert "Arabic" in client.get("/workspace/dashboard/languages.svg?days=7").text
    assert (
        httpx.get(f"{url}/workspace/dashboard/languages.svg", follow_redirects=False).status_code
        == 303
    )
