"""Cutting a long answer into messages a platform accepts."""

from __future__ import annotations

import re

# Sentence ends in the scripts we serve: Latin, Arabic (؟), Urdu (۔), Ethiopic (።).
_SENTENCE_END = re.compile(r"(?<=[.!?؟۔።])\s+|\n{2,}")


def split_text(text: str, limit: int) -> list[str]:
    """Parts of at most `limit` characters, cut at paragraph or sentence ends where possible,
    else at a space, else hard; nothing is dropped but surrounding whitespace."""
    text = text.strip()
    if len(text) <= limit:
        return [text]
    pieces = _SENTENCE_END.split(text)
    parts: list[str] = []
    current = ""
    for piece in pieces:
        while len(piece) > limit:  # one sentence longer than a whole message
            cut = piece.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                parts.append(current)
                current = ""
            parts.append(piece[:cut].rstrip())
            piece = piece[cut:].lstrip()
        joined = f"{current} {piece}".strip() if current else piece
        if len(joined) <= limit:
            current = joined
        else:
            parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return [p for p in parts if p]
