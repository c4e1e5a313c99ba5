"""The knowledge base as editors keep it: it validates, renders the same numbers in every
language, marks stale translations, and reports schema errors with file and line."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from knowledge import store
from knowledge.schema import LANGUAGES, PLACEHOLDER, source_hash
from knowledge.stamp import stamp_all
from knowledge.validate import changes_often, check, numbers, promises, read_numbers

ROOT = Path(store.__file__).resolve().parent


@pytest.fixture(scope="module")
def kb():
    return store.load()


def test_the_shipped_knowledge_base_has_no_errors(kb):
    report = check(kb)
    assert report.errors == []


def test_service_numbers_are_identical_in_every_language(kb):
    for entry in kb.entries.values():
        phones = [
            kb.services[m.group(1)].phone
            for m in PLACEHOLDER.finditer(entry.answer["en"])
            if m.group(2) == "phone"
        ]
        for lang in LANGUAGES:
            r = kb.render(entry.id, lang)
            assert "{" not in r.text, f"{entry.id}/{lang}: unfilled placeholder"
            for phone in phones:
                assert phone in r.text, f"{entry.id}: {phone} missing in {lang}"


def _copy_tree(tmp_path: Path, entry_id: str = "violence-hotline-1888") -> Path:
    root = tmp_path / "kb"
    shutil.copytree(ROOT / "services", root / "services")
    (root / "entries" / "violence").mkdir(parents=True)
    shutil.copy(
        ROOT / "entries" / "violence" / f"{entry_id}.yml",
        root / "entries" / "violence" / f"{entry_id}.yml",
    )
    return root / "entries" / "violence" / f"{entry_id}.yml"


def test_schema_error_names_file_and_line(tmp_path):
    path = _copy_tree(tmp_path)
    text = path.read_text(encoding="utf-8").replace("region: all", "region: mars")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(store.LoadError) as err:
        store.load(tmp_path / "kb")
    line = text.splitlines().index("region: mars") + 1
    assert any(f"{path}:{line}: region" in p for p in err.value.problems), err.value.problems


def test_a_changed_number_in_a_translation_is_an_error(tmp_path):
    path = _copy_tree(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("24 ساعة", "12 ساعة"), encoding="utf-8")
    report = check(store.load(tmp_path / "kb"))
    assert any("numbers differ" in e and ":" in e for e in report.errors)


def test_translation_becomes_stale_when_the_english_text_changes(tmp_path):
    path = _copy_tree(tmp_path)
    kb = store.load(tmp_path / "kb")
    stamp_all(kb)
    entry = store.load(tmp_path / "kb").entries["violence-hotline-1888"]
    assert entry.translation_state("ar") == "machine"
    assert entry.translations["ar"].source_hash == source_hash(entry.answer["en"])

    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "It is open 24 hours", "The line is open 24 hours"
        ),
        encoding="utf-8",
    )
    kb = store.load(tmp_path / "kb")
    assert kb.entries["violence-hotline-1888"].translation_state("ar") == "stale"
    assert "violence-hotline-1888" in check(kb).stale["ar"]
    served = kb.render("violence-hotline-1888", "ar")
    assert served.state == "fallback" and served.language == "en"


def test_numbers_ignore_separators_and_digit_scripts():
    assert numbers("DKK 5,545 and 24", "en") == numbers("5.545 kr. og 24", "da")
    assert numbers("DKK 5,545 and 24", "en") == numbers("DKK 5,545 و ٢٤", "ar")


def _copy_entry(tmp_path: Path, topic: str, entry_id: str) -> Path:
    """A knowledge tree with all services and one entry, for editing in a test."""
    root = tmp_path / "kb"
    if not (root / "services").exists():
        shutil.copytree(ROOT / "services", root / "services")
    (root / "entries" / topic).mkdir(parents=True, exist_ok=True)
    target = root / "entries" / topic / f"{entry_id}.yml"
    shutil.copy(ROOT / "entries" / topic / f"{entry_id}.yml", target)
    return target


# --- numbers are compared by value, each language in its own style (knowledge/README.md) -----


@pytest.mark.parametrize(
    "lang, text",
    [
        ("da", "1.675 kr."),
        ("tr", "DKK 1.675"),
        ("uk", "DKK 1 675"),
        ("ar", "DKK 1,675"),
        ("fa", "DKK ۱,۶۷۵"),
        ("prs", "DKK 1,675"),
    ],
)
def test_a_thousands_number_has_the_same_value_in_every_style(lang, text):
    values, problems = read_numbers(text, lang)
    assert values == numbers("DKK 1,675", "en") and problems == []


@pytest.mark.parametrize(
    "lang, right, changed, english",
    [
        ("en", "DKK 1,675", "DKK 1,657", "DKK 1,675"),
        ("da", "1.675 kr.", "1.657 kr.", "DKK 1,675"),
        ("tr", "DKK 1.675", "DKK 1.657", "DKK 1,675"),
        ("uk", "DKK 1 675", "DKK 1 657", "DKK 1,675"),
        ("ar", "DKK ١,٦٧٥", "DKK ١,٦٥٧", "DKK 1,675"),
        ("ti", "DKK 1,675", "DKK 16,75", "DKK 1,675"),
        ("da", "308.000 kr.", "38.000 kr.", "DKK 308,000"),
        ("da", "2,5 timer", "2,6 timer", "2.5 hours"),
        ("uk", "2,5 години", "25 годин", "2.5 hours"),
    ],
)
def test_a_changed_number_is_caught_in_every_convention(lang, right, changed, english):
    assert numbers(right, lang) == numbers(english, "en")
    assert numbers(changed, lang) != numbers(english, "en")


def test_decimals_times_dates_and_sections_are_read_per_language():
    assert numbers("2.5 hours", "en") == numbers("2,5 timer", "da") == numbers("2,5 години", "uk")
    assert numbers("2.5 hours", "en") != numbers("2.5 timer", "da")  # "2.5" is not Danish
    assert numbers("open 9:00-17.30", "en") == numbers("åben kl. 9.00-17.30", "da")
    assert numbers("Tuesday 9-11", "en") == numbers("tirsdag 9-11", "da")
    assert numbers("on 24.3.2020", "en") == numbers("den 24.3.2020", "da")
    assert (
        numbers("§109 stk. 2", "en") == numbers("§109 stk. 2", "da") == Counter({"109": 1, "2": 1})
    )
    assert numbers("DKK 9.50", "en") == numbers("9,50 kr.", "da")  # an amount, not a time
    assert read_numbers("DKK 220–225 (2023)", "da")[1] == []


@pytest.mark.parametrize(
    "lang, text",
    [
        ("da", "DKK 1,675"),
        ("da", "2,000 kr. pr. modul"),
        ("tr", "DKK 1,675"),
        ("uk", "DKK 1,675"),
        ("uk", "DKK 1.675"),
        ("en", "DKK 1.675"),
    ],
)
def test_another_languages_thousands_separator_is_flagged(lang, text):
    problems = read_numbers(text, lang)[1]
    assert problems and "ambiguous" in problems[0], problems


def test_the_danish_thousands_style_passes_and_an_english_comma_in_danish_is_an_error(tmp_path):
    path = _copy_entry(tmp_path, "health", "interpreter-fee-amounts")
    kb = store.load(tmp_path / "kb")
    assert "1.675 kr." in kb.entries["interpreter-fee-amounts"].answer["da"]
    assert check(kb).errors == []

    path.write_text(path.read_text(encoding="utf-8").replace("1.675 kr.", "1,675 kr."), "utf-8")
    errors = check(store.load(tmp_path / "kb")).errors
    assert any("ambiguous in da" in e and "'1.675'" in e for e in errors), errors

    path.write_text(path.read_text(encoding="utf-8").replace("1,675 kr.", "1.657 kr."), "utf-8")
    errors = check(store.load(tmp_path / "kb")).errors
    assert any("numbers differ" in e for e in errors), errors


def test_a_changed_number_in_a_ukrainian_or_turkish_translation_is_an_error(tmp_path):
    path = _copy_entry(tmp_path, "rights", "rights-retshjaelp-copenhagen-aarhus")
    text = path.read_text(encoding="utf-8")
    for old, new in (
        ("308 000 на рік", "380 000 на рік"),
        ("308.000, çiftler", "380.000, çiftler"),
    ):
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        errors = check(store.load(tmp_path / "kb")).errors
        assert any("numbers differ" in e for e in errors), (old, errors)


def test_a_service_phone_number_written_out_is_an_error(tmp_path):
    path = _copy_entry(tmp_path, "violence", "violence-social-control-hotline")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{social_control_hotline.phone}", "70 26 28 18"), "utf-8")
    errors = check(store.load(tmp_path / "kb")).errors
    assert any("write the phone number 70262818" in e for e in errors), errors


# --- CHANGES OFTEN facts need a review date ---------------------------------------------------


def test_an_amount_without_review_by_is_an_error(tmp_path):
    path = _copy_entry(tmp_path, "violence", "violence-shelter-fee")
    assert check(store.load(tmp_path / "kb")).errors == []
    path.write_text(
        path.read_text(encoding="utf-8").replace("review_by: 2027-05-21\n", ""), "utf-8"
    )
    errors = check(store.load(tmp_path / "kb")).errors
    assert any("CHANGES OFTEN" in e and "review_by" in e for e in errors), errors


def test_what_counts_as_changing_often(kb):
    assert "amount" in changes_often(kb.entries["citizenship-test-fee"])
    assert changes_often(kb.entries["choosing-a-gp"]).startswith("a fee")
    assert changes_often(kb.entries["violence-police-protection"]) is None
    assert changes_often(kb.entries["pregnancy-checkups"]) is None  # "weeks 6–10" is no time
    for eid in ("choosing-a-gp", "health-card-new-or-lost", "abortion-week-limit"):
        assert kb.entries[eid].review_by is not None, eid


# --- promises in violence and residence answers: a person confirms them -----------------------


def test_promise_words_in_a_violence_answer_warn_and_name_the_entry(tmp_path):
    path = _copy_entry(tmp_path, "violence", "violence-hotline-1888")
    text = path.read_text(encoding="utf-8")
    assert not promises(store.load(tmp_path / "kb").entries["violence-hotline-1888"])
    path.write_text(
        text.replace("og har overblik", "og du får altid en plads og har overblik"),
        encoding="utf-8",
    )
    warnings = check(store.load(tmp_path / "kb")).warnings
    assert any("violence-hotline-1888" in w and "får altid" in w for w in warnings), warnings

    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "review_by:", 'promises_checked: "A. Editor, 2026-12-01"\nreview_by:', 1
        ),
        encoding="utf-8",
    )
    assert not any("promises" in w for w in check(store.load(tmp_path / "kb")).warnings)


def test_the_shelter_answer_states_its_conditions_and_asks_a_person_to_confirm(kb):
    entry = kb.entries["violence-crisis-shelter"]
    assert "lawfully" in entry.answer["en"] and "leader decides" in entry.answer["en"]
    assert "lovligt ophold" in entry.answer["da"]
    assert any("must offer" in p for p in promises(entry))
    assert not promises(kb.entries["everyday-integration-programme"])  # not a violence answer


@pytest.mark.parametrize(
    "text, region",
    [
        ("silkeborgda yaşıyorum, doktor kapalı", "central"),
        ("Vejle'de oturuyorum", "southern"),
        ("thisteddeyim, hangi numara", "north"),
        ("kopenhagdaki kadın evleri", "capital"),
    ],
)
def test_a_town_with_a_turkish_case_ending_names_its_region(text, region):
    from knowledge.regions import region_in

    assert region_in(text) == region


def test_danish_words_that_look_like_a_town_with_an_ending_name_no_region():
    from knowledge.regions import region_in

    for text in ("hun vejlede mig om sundhedskort", "vi kogede ris", "en vejleder"):
        assert region_in(text) is None, text


def test_character_ngrams_see_through_letter_variants():
    from knowledge.index import normalise

    assert normalise("إقامة") == normalise("اقامه")
    assert normalise("كارت يك") == normalise("کارت یک")
    assert normalise("Prøve i Dansk") == "prøve i dansk"
    assert normalise("Ölüm") == normalise("olum")
