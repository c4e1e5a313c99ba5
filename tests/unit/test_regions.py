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
