"""Danger screening that runs before the NLU model, in every language at once.

The woman's language may be guessed wrong, so every message is checked against every
language's patterns (bot/core/danger_terms.yml). A match makes the gateway put the emergency
numbers first in the reply, whatever happens after: Rasa down, action server down, wrong intent.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

TERMS = Path(__file__).resolve().parent / "danger_terms.yml"
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")


@dataclass(frozen=True)
class Screening:
    danger: bool
    language: str | None = None  # whose pattern matched
    pattern: str | None = None


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _ARABIC_MARKS.sub("", text)
    return " ".join(text.split())


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, re.Pattern]]:
    data = yaml.safe_load(TERMS.read_text(encoding="utf-8")) or {}
    return [(lang, re.compile(p, re.IGNORECASE)) for lang, pats in data.items() for p in pats]


def screen(text: str) -> Screening:
    norm = normalise(text or "")
    for lang, pattern in _patterns():
        if pattern.search(norm):
            return Screening(True, lang, pattern.pattern)
    return Screening(False)
