"""A town or municipality she names routes region-specific answers (out-of-hours numbers)."""

import pytest
import yaml

from knowledge.regions import FILE, region_in


@pytest.mark.parametrize(
    "text, region",
    [
        ("i live in Silkeborg and my doctor is closed", "central"),
        ("jeg bor i Høje-Taastrup", "capital"),
        ("bor i hoje taastrup", "capital"),
        ("Nykøbing Falster, hvem ringer jeg til om natten", "zealand"),
        ("we moved to Aalborg", "north"),
        ("ana sakna fi odense", "southern"),
        ("انا في كوبنهاغن", "capital"),
    ],
)
def test_region_from_a_place_name(text, region):
    assert region_in(text) == region


def test_no_region_in_ordinary_words():
    for text in ("my doctor is closed tonight", "vejledning om sundhedskort", "Herligt!"):
        assert region_in(text) is None, text


def test_all_98_municipalities_are_mapped_once():
    data = yaml.safe_load(FILE.read_text(encoding="utf-8"))
    names = [m for groups in data.values() for m in groups["municipalities"]]
    assert len(names) == 98 and len(set(names)) == 98


@pytest.mark.parametrize(
    "text, region",
    [
        ("1813 free?", "capital"),
        ("در ۱۸۱۳ با داکتر گپ زده میتانم؟", "capital"),
        ("skal jeg ringe 1818", "zealand"),
        ("is 70 11 31 31 open at night", "central"),
    ],
)
def test_a_regions_own_number_names_the_region_the_question_is_about(text, region):
    assert region_in(text) == region


def test_a_number_is_not_taken_for_where_she_lives():
    assert region_in("is 1813 free from my mobile", numbers=False) is None
    assert region_in("I live in Odense, is 1813 free?", numbers=False) == "southern"
