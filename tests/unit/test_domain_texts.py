"""The bot's own texts in domain.yml: every first language present, same numbers and same
button payloads in every language (a translation must never change 112 or 1888)."""

import re

import pytest
import yaml

from common.texts import DOMAIN, languages_of, response
from langtools.langid import SUPPORTED

RESPONSES = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))["responses"]
MULTILINGUAL_BY_DESIGN = {"utter_ask_language"}


def digits(text):
    return sorted(re.findall(r"\d+", text))


@pytest.mark.parametrize("name", sorted(set(RESPONSES) - MULTILINGUAL_BY_DESIGN))
def test_every_response_speaks_every_first_language(name):
    assert languages_of(name) >= set(SUPPORTED) - {"en"}
    english = response(name, "en")
    for lang in SUPPORTED:
        r = response(name, lang)
        assert digits(r["text"]) == digits(english["text"]), lang
        assert [b["payload"] for b in r.get("buttons", [])] == [
            b["payload"] for b in english.get("buttons", [])
        ], lang
        if lang != "en":
            assert r["text"] != english["text"], f"{name} not translated into {lang}"


def test_emergency_text_has_both_numbers_in_every_language():
    for lang in SUPPORTED:
        text = response("utter_emergency", lang)["text"]
        assert "112" in text and "1888" in text, lang
