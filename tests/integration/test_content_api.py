"""Editors' JSON API for content (docs/api.md), over real HTTP on loopback against a real
gateway: list, read, a refused draft with the validator's reasons, a draft, a publish, the
versions and a restore; a counsellor's token is refused."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy.orm import Session

from bot.referrals.models import User
from bot.workspace import auth
from tests.integration.test_unanswered import DENTIST, DENTIST_AGAIN, KEY, directive, editor, say
from tests.support.encrypted_gateway import data_key, encrypted_gateway

HOTLINE = "violence-hotline-1888"


@pytest.fixture
def site(sqlite_url):
    with data_key(KEY), encrypted_gateway(sqlite_url, KEY) as (url, engine, rasa):
        client, token = editor(url, engine)
        api = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"})
        yield url, engine, client, api, rasa


def test_an_editor_changes_an_entry_through_the_api(site):
    url, engine, _, api, _ = site
    listed = api.get("/api/v1/entries").json()["entries"]
    hotline = next(e for e in listed if e["id"] == HOTLINE)
    assert hotline["topic"] == "violence" and hotline["translations"]["ar"] == "machine"

    entry = api.get(f"/api/v1/entries/{HOTLINE}").json()
    assert entry["id"] == HOTLINE and entry["answer"]["en"].startswith("If someone at home")

    wrong = {**entry, "translations": {**entry["translations"]}}
    wrong["translations"]["tr"] = {**entry["translations"]["tr"]}
    wrong["translations"]["tr"]["text"] += " 7 gün açık."
    r = api.put(f"/api/v1/entries/{HOTLINE}/draft", json=wrong)
    assert r.status_code == 422
    assert [(p["field"], "numbers differ" in p["message"]) for p in r.json()["problems"]] == [
        ("translations.tr.text", True)
    ]

    entry["questions"]["en"].append("is the 1888 line open at night")
    assert api.put(f"/api/v1/entries/{HOTLINE}/draft", json=entry).status_code == 200
    assert api.get(f"/api/v1/entries/{HOTLINE}").json()["questions"] != entry["questions"]
    assert api.get(f"/api/v1/entries/{HOTLINE}?draft=true").json() == entry
    r = api.post(f"/api/v1/entries/{HOTLINE}/publish")
    assert r.status_code == 200 and r.json() == {"version": 2}
    assert (
        "is the 1888 line open at night"
        in api.get(f"/api/v1/entries/{HOTLINE}").json()["questions"]["en"]
    )

    versions = api.get(f"/api/v1/entries/{HOTLINE}/versions").json()["versions"]
    assert [(v["version"], v["author"], v["note"]) for v in versions] == [
        (2, "eva", "edited"),
        (1, "repository", "from the repository"),
    ]
    r = api.post(f"/api/v1/entries/{HOTLINE}/versions/1/restore")
    assert r.json() == {"version": 3}
    restored = api.get(f"/api/v1/entries/{HOTLINE}").json()
    assert "is the 1888 line open at night" not in restored["questions"]["en"]


def test_an_english_change_must_say_whether_the_facts_changed(site):
    _, _, _, api, _ = site
    entry = api.get(f"/api/v1/entries/{HOTLINE}").json()
    entry["answer"]["en"] = entry["answer"]["en"].replace("you can call", "you can ring")
    assert api.put(f"/api/v1/entries/{HOTLINE}/draft", json=entry).status_code == 200
    r = api.post(f"/api/v1/entries/{HOTLINE}/publish")
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "facts_changed"
    r = api.post(f"/api/v1/entries/{HOTLINE}/publish", json={"facts_changed": False})
    assert r.json() == {"version": 2}
    listed = api.get("/api/v1/entries").json()["entries"]
    assert next(e for e in listed if e["id"] == HOTLINE)["translations"]["ar"] == "machine"


def test_a_counsellors_token_cannot_change_content(site):
    url, engine, _, _, _ = site
    with Session(engine, expire_on_commit=False) as db:
        user = auth.create_user(db, "cora", "a long password", role="counsellor", languages="ar")
        token = auth.create_token(db, db.get(User, user.id))
        db.commit()
    r = httpx.get(f"{url}/api/v1/entries", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert httpx.get(f"{url}/api/v1/entries").status_code == 401


def test_the_content_pages_show_stale_translations_with_the_diff(site):
    _, _, client, api, _ = site
    entry = api.get(f"/api/v1/entries/{HOTLINE}").json()
    entry["answer"]["en"] = entry["answer"]["en"].replace("open 24 hours", "open every day")
    entry["answer"]["da"] = entry["answer"]["da"].replace("24 timer i døgnet", "hver dag")
    api.put(f"/api/v1/entries/{HOTLINE}/draft", json=entry)
    assert api.post(f"/api/v1/entries/{HOTLINE}/publish", json={"facts_changed": True}).json() == {
        "version": 2
    }
    listing = client.get("/workspace/content?status=stale&language=ar")
    assert listing.status_code == 200 and HOTLINE in listing.text
    assert "health-care-costs" not in listing.text  # only entries with a stale Arabic
    page = client.get(f"/workspace/content/entries/{HOTLINE}").text
    assert "STALE: the English changed since" in page
    assert "<del>24 hours,</del> <ins>every day,</ins>" in page.replace("open ", "")


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_an_unanswered_group_becomes_example_questions_and_then_a_new_entry(site):
    url, engine, client, api, rasa = site
    for sender, text in (("w1", DENTIST), ("w2", DENTIST_AGAIN)):
        say(url, rasa, sender, text, {"text": "Det ved jeg ikke."}, directive(reason="no_answer"))
    page = client.get("/workspace/unanswered?language=da").text
    ids = re.search(r'name="ids" value="([0-9,]+)"', page).group(1)
    r = client.post(
        "/workspace/content/add-questions",
        data={"csrf": _csrf(page), "ids": ids, "entry_id": "health-care-costs"},
    )
    assert r.status_code == 303 and r.headers["location"].endswith("done=questions_added")
    draft = api.get("/api/v1/entries/health-care-costs?draft=true").json()
    assert DENTIST in draft["questions"]["da"] and DENTIST_AGAIN in draft["questions"]["da"]
    assert DENTIST not in client.get("/workspace/unanswered?language=da").text  # handled
    assert api.post("/api/v1/entries/health-care-costs/publish").json() == {"version": 2}
    published = api.get("/api/v1/entries/health-care-costs").json()
    assert DENTIST in published["questions"]["da"]

    say(
        url,
        rasa,
        "w3",
        "må jeg tage min hund med i bussen",
        {"text": "?"},
        directive(reason="no_answer"),
    )
    page = client.get("/workspace/unanswered?language=da").text
    ids = re.search(r'href="/workspace/content/new\?ids=([0-9,]+)"', page).group(1)
    form = client.get(f"/workspace/content/new?ids={ids}").text
    assert "må jeg tage min hund med i bussen" in form
    new = {
        "csrf": _csrf(form),
        "ids": ids,
        "id": "everyday-dogs-on-buses",
        "topic": "everyday",
        "title.en": "Dogs on buses",
        "title.da": "Hunde i bussen",
        "answer.en": "Ask the bus company.",
        "answer.da": "Spørg busselskabet.",
        "sources": "",
        "questions.da": "må jeg tage min hund med i bussen",
    }
    refused = client.post("/workspace/content/new", data=new)
    assert refused.status_code == 422 and "sources" in refused.text  # every fact has a source
    new["sources"] = "https://www.dinoffentligetransport.dk/ | The bus companies' own rules"
    saved = client.post("/workspace/content/new", data=new)
    assert saved.status_code == 303
    assert client.get("/workspace/content/entries/everyday-dogs-on-buses").status_code == 200
    assert api.get("/api/v1/entries/everyday-dogs-on-buses?draft=true").json()["title"]["da"] == (
        "Hunde i bussen"
    )


def test_a_draft_can_be_discarded_through_the_api(site):
    _, _, _, api, _ = site
    entry = api.get(f"/api/v1/entries/{HOTLINE}").json()
    entry["questions"]["en"].append("who picks up at 1888")
    api.put(f"/api/v1/entries/{HOTLINE}/draft", json=entry)
    assert api.delete(f"/api/v1/entries/{HOTLINE}/draft").json() == {"draft": False}
    r = api.post(f"/api/v1/entries/{HOTLINE}/publish")
    assert (
        r.status_code == 422
        and r.json()["problems"][0]["message"] == "there is no draft to publish"
    )
