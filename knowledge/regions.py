"""Finds the region a message mentions, from knowledge/regions.yml (municipalities and towns)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from nlu.names import NameLookup

FILE = Path(__file__).resolve().parent / "regions.yml"
_FOLD = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "-": " "})
_PLAIN = str.maketrans({"æ": "a", "ø": "o", "å": "a"})


def _fold(text: str) -> str:
    return " ".join(text.casefold().translate(_FOLD).split())


def _plain(text: str) -> str:
    return " ".join(text.casefold().replace("-", " ").translate(_PLAIN).split())


@lru_cache(maxsize=1)
def _lookup() -> NameLookup:
    data = yaml.safe_load(FILE.read_text(encoding="utf-8"))
    codes: dict[str, str] = {}
    for region, groups in data.items():
        for name in groups["municipalities"] + groups["places"]:
            codes[_fold(name)] = codes[_plain(name)] = region
    return NameLookup(codes)


def region_in(text: str) -> str | None:
    lookup = _lookup()
    return lookup.find(_fold(text)) or lookup.find(_plain(text))
