"""Finds the region a message mentions, from knowledge/regions.yml (municipalities and towns,
and each region's own out-of-hours number).

Names are whole words; Turkish writes case endings onto a town's name ("Vejle'de",
"silkeborgda", "thisteddeyim"), so a name followed by one of those endings counts too."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from langtools.names import NameLookup

FILE = Path(__file__).resolve().parent / "regions.yml"
_FOLD = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "-": " "})
# Arabic-Indic and Persian digits ("۱۸۱۳") as the digits of the regions' phone numbers
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_PLAIN = str.maketrans({"æ": "a", "ø": "o", "å": "a"})


def _fold(text: str) -> str:
    return " ".join(text.casefold().translate(_FOLD).translate(_DIGITS).split())


def _plain(text: str) -> str:
    return " ".join(text.casefold().replace("-", " ").translate(_PLAIN).translate(_DIGITS).split())


@lru_cache(maxsize=2)
def _lookup(numbers: bool) -> NameLookup:
    data = yaml.safe_load(FILE.read_text(encoding="utf-8"))
    codes: dict[str, str] = {}
    for region, groups in data.items():
        names = groups["municipalities"] + groups["places"]
        for name in names + (groups.get("numbers", []) if numbers else []):
            codes[_fold(str(name))] = codes[_plain(str(name))] = region
    return NameLookup(codes)


# Turkish locative/ablative/dative endings, with "I am" (-yım) after them, after a place name.
_TURKISH_ENDING = r"(?:['’]?(?:[dt][ae](?:ki|n|y[iı]m)?|y[ae]|[dt][ae]\s?y[iı]m))"


# Danish words that look like a town with a Turkish ending.
_DANISH_WORDS = {"vejlede"}


@lru_cache(maxsize=1)
def _suffixed() -> re.Pattern:
    data = yaml.safe_load(FILE.read_text(encoding="utf-8"))
    folded = {
        _fold(name)
        for groups in data.values()
        for name in groups["municipalities"] + groups["places"]
    }
    names = sorted((n for n in folded if len(n) >= 4), key=len, reverse=True)
    return re.compile(
        r"(?<!\w)(" + "|".join(map(re.escape, names)) + ")" + _TURKISH_ENDING + r"(?!\w)"
    )


def region_in(text: str, numbers: bool = True) -> str | None:
    """The region the text is about. `numbers=False`: only a place counts, for remembering
    where she lives ("is 1813 free?" asks about the Capital Region, she may live in Odense)."""
    lookup = _lookup(numbers)
    found = lookup.find(_fold(text)) or lookup.find(_plain(text))
    if found:
        return found
    for m in _suffixed().finditer(_fold(text)):  # folded only: "kogede" is not Køge
        if m.group(0) not in _DANISH_WORDS:
            return lookup.codes_by_name[m.group(1)]
    return None
