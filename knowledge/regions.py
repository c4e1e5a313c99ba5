"""Finds the region a message mentions, from knowledge/regions.yml (municipalities and towns)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

FILE = Path(__file__).resolve().parent / "regions.yml"
_FOLD = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "-": " "})


def _fold(text: str) -> str:
    return " ".join(text.casefold().translate(_FOLD).split())


def _variants(name: str) -> set[str]:
    base = name.casefold().replace("-", " ")
    plain = base.translate(str.maketrans({"æ": "a", "ø": "o", "å": "a"}))
    return {_fold(base), plain}


@lru_cache(maxsize=1)
def _pattern() -> tuple[re.Pattern, dict[str, str]]:
    data = yaml.safe_load(FILE.read_text(encoding="utf-8"))
    lookup: dict[str, str] = {}
    for region, groups in data.items():
        for name in groups["municipalities"] + groups["places"]:
            for v in _variants(name):
                lookup[v] = region
    names = sorted(lookup, key=len, reverse=True)  # "nykoebing falster" before "falster"
    return re.compile(r"(?<!\w)(" + "|".join(map(re.escape, names)) + r")(?!\w)"), lookup


def region_in(text: str) -> str | None:
    pattern, lookup = _pattern()
    folded = _fold(text)
    plain = " ".join(text.casefold().replace("-", " ").translate(
        str.maketrans({"æ": "a", "ø": "o", "å": "a"})).split())
    for candidate in (folded, plain):
        m = pattern.search(candidate)
        if m:
            return lookup[m.group(1)]
    return None
