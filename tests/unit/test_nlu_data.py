"""The hand-written NLU examples (nlu/data/<language>.yml): every first language has every
intent with enough examples to learn from, and no text is taught as two different intents,
which would make the classifier's answer for it a coin toss."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import yaml

from tools.nlu_data import hand_written

REPO = Path(__file__).resolve().parents[2]
LANGUAGES = {"ar", "da", "en", "fa", "so", "ti", "tr", "uk", "ur"}
# Cross-validation (make nlu-report) rose with the examples per intent; below this a short
# intent is learnt from too few messages in that language.
MIN_EXAMPLES = 40


def test_every_language_has_every_intent_with_enough_examples():
    intents = set(yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))["intents"])
    counts = Counter((lang, intent) for lang, intent, _ in hand_written())
    assert {lang for lang, _ in counts} == LANGUAGES
    thin = [
        (lang, intent, counts[lang, intent])
        for lang in sorted(LANGUAGES)
        for intent in sorted(intents)
        if counts[lang, intent] < MIN_EXAMPLES and intent != "ask_question"
    ]  # the knowledge base adds its questions to this one
    assert thin == []


def test_no_text_is_taught_as_two_intents():
    taught = defaultdict(set)
    for _, intent, text in hand_written():
        taught[text.casefold()].add(intent)
    assert {t: sorted(i) for t, i in taught.items() if len(i) > 1} == {}


def test_no_example_is_written_twice_in_one_language():
    counts = Counter((lang, text.casefold()) for lang, _, text in hand_written())
    assert [key for key, n in counts.items() if n > 1] == []
