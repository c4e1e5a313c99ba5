"""The published content (knowledge/content.py) on real SQLite and PostgreSQL: seeded from
the repository's YAML, changed by drafts and publishes, each version kept and restorable,
and the translation stamps that decide whether she is answered in her language."""

from __future__ import annotations

import pytest

from bot.storage.db import make_engine, migrate
from knowledge import content
from knowledge.store import load

HOTLINE = "violence-hotline-1888"
SERVICE = "lev_uden_vold"


@pytest.fixture(scope="module")
def repo_kb():
    return load()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request, repo_kb):
    url = request.getfixturevalue(f"{request.param}_url")
    migrate(url)
    engine = make_engine(url)
    assert len(content.sync(engine, repo_kb)) == len(repo_kb.entries) + len(repo_kb.services)
    yield engine
    engine.dispose()


def served(engine, entry_id: str, lang: str):
    kb = content.published(engine)
    assert kb is not None
    return kb.render(entry_id, lang)


def edit(engine, entry_id: str, change) -> None:
    _, data = content.current(engine, "entry", entry_id)
    change(data)
    content.save_draft(engine, "entry", entry_id, data, "Eva")


def test_seeded_content_serves_what_the_yaml_says(engine, repo_kb):
    kb = content.published(engine)
    assert kb is not None and kb.fingerprint() == repo_kb.fingerprint()
    assert content.sync(engine, repo_kb) == []  # a second start writes nothing
    assert [v.author for v in content.history(engine, "entry", HOTLINE)] == ["repository"]


def test_a_wording_change_keeps_her_translation(engine):
    before = served(engine, HOTLINE, "ar")
    assert before.state == "machine"

    def reword(data):
        data["answer"]["en"] = data["answer"]["en"].replace("you can call", "you can ring")

    edit(engine, HOTLINE, reword)
    with pytest.raises(content.Invalid) as refused:
        content.publish(engine, "entry", HOTLINE, "Eva")  # she has not said which
    assert refused.value.problems[0].loc == "facts_changed"

    assert content.publish(engine, "entry", HOTLINE, "Eva", facts_changed=False) == 2
    after = served(engine, HOTLINE, "ar")
    assert (after.language, after.state, after.text) == ("ar", "machine", before.text)
    assert "you can ring" in served(engine, HOTLINE, "en").text
    assert [(v.version, v.author, v.note) for v in content.history(engine, "entry", HOTLINE)] == [
        (2, "Eva", "wording only"),
        (1, "repository", "from the repository"),
    ]


def test_a_fact_change_marks_translations_stale_until_one_is_fixed(engine):
    old_en = content.current(engine, "entry", HOTLINE)[1]["answer"]["en"]

    def change_fact(data):
        data["answer"]["en"] = data["answer"]["en"].replace("open 24 hours", "open every day")
        data["answer"]["da"] = data["answer"]["da"].replace("24 timer i døgnet", "hver dag")

    edit(engine, HOTLINE, change_fact)
    content.publish(engine, "entry", HOTLINE, "Eva", facts_changed=True)
    fallback = served(engine, HOTLINE, "ar")
    assert (fallback.language, fallback.state) == ("en", "fallback")
    kb = content.published(engine)
    stale = kb.entries[HOTLINE].translations["ar"].source_hash
    assert content.source_text_of(engine, HOTLINE, stale) == old_en  # for the diff

    def fix_arabic(data):
        t = data["translations"]["ar"]
        t["text"] = t["text"].replace("24 ساعة", "كل يوم")
        data["translations"]["ar"] = content.reviewed_today(t, "Eva")

    edit(engine, HOTLINE, fix_arabic)
    content.publish(engine, "entry", HOTLINE, "Eva")
    fixed = served(engine, HOTLINE, "ar")
    assert (fixed.language, fixed.state) == ("ar", "reviewed")
    assert "كل يوم" in fixed.text
    assert served(engine, HOTLINE, "so").state == "fallback"  # not fixed: still stale


def test_publish_refuses_a_mismatched_number_with_the_field(engine):
    def wrong_number(data):
        data["translations"]["uk"]["text"] += " Відкрито 7 днів."

    edit(engine, HOTLINE, wrong_number)
    with pytest.raises(content.Invalid) as refused:
        content.publish(engine, "entry", HOTLINE, "Eva")
    assert [p.loc for p in refused.value.problems] == ["translations.uk.text"]
    assert "numbers differ from the English text" in refused.value.problems[0].message
    assert len(content.history(engine, "entry", HOTLINE)) == 1  # nothing published
    assert content.draft(engine, "entry", HOTLINE) is not None  # her work is kept


def test_a_new_service_number_waits_for_the_titles_that_write_it_out(engine):
    _, service = content.current(engine, "service", SERVICE)
    service["phone"] = "1889"
    content.save_draft(engine, "service", SERVICE, service, "Eva")
    with pytest.raises(content.Invalid) as refused:
        content.publish(engine, "service", SERVICE, "Eva")
    flagged = {(p.entry_id, p.loc) for p in refused.value.problems}
    assert (HOTLINE, "title.en") in flagged and (HOTLINE, "translations.ar.title") in flagged
    assert all(e == HOTLINE and ".title" in loc or loc.startswith("title") for e, loc in flagged)

    def new_titles(data):
        for t in [data["title"], *(x for x in data["translations"].values())]:
            if "title" in t:
                t["title"] = t["title"].replace("1888", "1889")
            for lang in ("en", "da"):
                if lang in t:
                    t[lang] = t[lang].replace("1888", "1889")

    edit(engine, HOTLINE, new_titles)
    assert content.publish(engine, "service", SERVICE, "Eva") == 2  # with the entry's draft
    answer = served(engine, HOTLINE, "ar")
    assert "1889" in answer.text and "1889" in answer.title and answer.state == "machine"

    assert content.restore(engine, "entry", HOTLINE, 1, "Eva") == 3
    assert content.restore(engine, "service", SERVICE, 1, "Eva") == 3
    back = served(engine, HOTLINE, "ar")
    assert "1888" in back.text and "1889" not in back.text


def test_a_draft_begun_before_a_colleagues_publish_is_not_published_over_it(engine):
    edit(engine, HOTLINE, lambda d: d["questions"]["en"].append("who answers the 1888 line"))
    assert content.restore(engine, "entry", HOTLINE, 1, "Ali") == 2  # published meanwhile
    with pytest.raises(content.Invalid) as refused:
        content.publish(engine, "entry", HOTLINE, "Eva")
    assert "version 2 was published after this draft" in refused.value.problems[0].message
    assert len(content.history(engine, "entry", HOTLINE)) == 2


def test_export_writes_the_published_change_into_the_yaml_and_import_reads_it_back(
    engine, tmp_path
):
    import shutil

    from knowledge.store import ROOT

    for part in ("entries", "services"):
        shutil.copytree(ROOT / part, tmp_path / part)
    edit(engine, HOTLINE, lambda d: d["questions"]["en"].append("who answers the 1888 line"))
    content.publish(engine, "entry", HOTLINE, "Eva")
    written = content.export_yaml(engine, tmp_path)
    assert written == [tmp_path / "entries" / "violence" / f"{HOTLINE}.yml"]
    exported = load(tmp_path)
    assert "who answers the 1888 line" in exported.entries[HOTLINE].questions["en"]
    assert exported.fingerprint() == content.published(engine).fingerprint()
    assert content.import_yaml(engine, exported) == []  # nothing differs any more

    exported_entry = exported.entries[HOTLINE]
    changed = exported_entry.model_copy(update={"owner": "shelter-team"})
    exported.entries[HOTLINE] = changed
    assert content.import_yaml(engine, exported, author="git") == [f"entry {HOTLINE}"]
    assert content.history(engine, "entry", HOTLINE)[0].author == "git"
