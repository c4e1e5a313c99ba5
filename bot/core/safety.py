"""Danger screening that runs before the NLU model, in every language at once.

Two layers. The woman's language may be guessed wrong, so every message is checked against
every language's patterns (bot/core/danger_terms.yml); then a model over the message's
multilingual embedding (bot/core/danger_model.py) catches what no pattern lists and takes
back a pattern's match on a plain idiom. Danger makes the gateway put the emergency numbers
first in the reply, whatever happens after: Rasa down, action server down, wrong intent.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from bot.core import danger_model
from langtools import query_vector

TERMS = Path(__file__).resolve().parent / "danger_terms.yml"
IDIOMS = Path(__file__).resolve().parent / "danger_idioms.yml"
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
# The model reads the start of a message only (e5 reads 512 tokens at most; a 100,000-
# character message took 55 s); the patterns read all of it.
MODEL_CHARS = 2000


@dataclass(frozen=True)
class Screening:
    danger: bool
    language: str | None = None  # whose pattern matched
    pattern: str | None = None
    kind: str = "danger"  # "acute": acute need without violence (a shelter tonight)
    # Whether the model read the message (long enough, and built). Only then is "no danger"
    # a judgement that Rasa's own danger intent defers to (nlu/components.py DangerOverride).
    judged: bool = False
    # The message's e5 query vector, where screen() was asked to share it: Rasa and the
    # action server read it instead of encoding the message again (langtools/query_vector.py)
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _ARABIC_MARKS.sub("", text)
    # direction marks and zero-width spaces would hide a phrase from every pattern; the
    # zero-width non-joiner is kept, Persian spelling needs it (and the patterns use it)
    text = "".join(c for c in text if c == "\u200c" or unicodedata.category(c) != "Cf")
    return " ".join(text.split())


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, re.Pattern]]:
    data = yaml.safe_load(TERMS.read_text(encoding="utf-8")) or {}
    return [(lang, re.compile(p, re.IGNORECASE)) for lang, pats in data.items() for p in pats]


@lru_cache(maxsize=1)
def _idioms() -> list[re.Pattern]:
    data = yaml.safe_load(IDIOMS.read_text(encoding="utf-8")) or {}
    return [re.compile(p, re.IGNORECASE) for pats in data.values() for p in pats]


def without_idioms(norm: str) -> str:
    """The normalised message with its calm hyperbole ("this grammar will kill me") blanked
    out. A full stop stands in its place, so that no pattern spans the gap."""
    for idiom in _idioms():
        norm = idiom.sub(" . ", norm)
    return norm


def screen_patterns(text: str) -> Screening:
    """The first layer alone: the patterns of every language, on the message without its
    listed idioms (bot/core/danger_idioms.yml)."""
    norm = normalise(text or "")
    calm = without_idioms(norm)
    for lang, pattern in _patterns():
        if pattern.search(calm):
            return Screening(True, lang, pattern.pattern)
    if calm != norm:
        return Screening(False, pattern="idiom")  # logged as why no pattern alarmed
    return Screening(False)


def patterns_final() -> bool:
    """Whether a pattern's match is danger whatever the model says (no veto: the idioms are
    masked before the patterns read the message instead), so it may be acted on before the
    model has read the message."""
    return danger_model.VETO <= 0.0


def screen(text: str, share: bool = False, found: Screening | None = None) -> Screening:
    """Both layers. A pattern's match stands unless the model is all but sure the message is
    calm (an idiom: "this grammar will kill me"); the model alone raises the alarm for what
    no pattern lists. Patterns only where the model is not built. With `share`, the result
    carries the message's vector, also of a message too short to judge. `found`: the
    patterns' result for this text, where the caller has it already."""
    if found is None:
        found = screen_patterns(text)
    if not (text or "").strip() or text.startswith("/"):  # a button's payload says nothing
        return found
    judge = danger_model.enough_to_judge(text)
    model = danger_model.model() if judge or share else None
    if model is None:
        return found
    head = text[:MODEL_CHARS]
    vector = model.encode([query_vector.normal(head)])[0]
    shared = vector if share and head == text else None  # of the whole message only
    if not judge:
        # "hello there", "ok": too little for the model, which misreads them
        return replace(found, vector=shared)
    judged = model.judge(head, vector)
    if found.danger:
        if judged.probability < danger_model.VETO:
            return Screening(
                False, found.language, f"idiom:{found.pattern}", judged=True, vector=shared
            )
        return replace(found, vector=shared)
    if judged.probability >= danger_model.ALARM:
        return Screening(
            True, None, f"model:{judged.probability:.2f}", judged.kind, True, vector=shared
        )
    return Screening(False, judged=True, vector=shared)
