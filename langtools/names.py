"""Finds which of many known names a text mentions: whole words only, longest name first
("nykoebing falster" before "falster"; "dansk" never inside "danskuddannelse")."""

from __future__ import annotations

import re


class NameLookup:
    def __init__(self, codes_by_name: dict[str, str]):
        self.codes_by_name = codes_by_name
        names = sorted(codes_by_name, key=len, reverse=True)
        self.pattern = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, names)) + r")(?!\w)")

    def find(self, text: str) -> str | None:
        m = self.pattern.search(text)
        return self.codes_by_name[m.group(1)] if m else None
