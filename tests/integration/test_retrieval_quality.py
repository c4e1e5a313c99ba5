"""Retrieval quality over the labelled questions in tests/eval, against the real model and
index: a change to content, scoring or thresholds must not make answers worse. The floors
are the figures in knowledge/calibration.md minus 3 points; raise them as retrieval improves
(the issue's target is top-1 >= 90% in every language)."""

from __future__ import annotations

import pytest

from knowledge import model_store
from knowledge.evaluate import load_cases, run, summarise
from knowledge.index import Index
from knowledge.store import load

TOP1_FLOOR = {
    "ar": 87,
    "da": 89,
    "en": 90,
    "fa": 87,
    "so": 88,
    "ti": 87,
    "tr": 88,
    "uk": 88,
    "ur": 87,
}
MAX_WRONG_DIRECT_ANSWERS = 10.0  # percent of direct answers, in every language
# Percent of questions no entry answers that still get an answer, pooled over the languages.
# The probability decision (knowledge/confidence.py) answers far more often than the old
# score thresholds did (first reply right on the blind test half 61% -> 79%), and gives one or
# two answers to 89% of these (was at most 30% per language). The gaps (knowledge/gaps.py)
# brought it to 70% here (2026-12-03); the target of 10% needs more of them, or
# content. This bound only keeps it from getting worse.
MAX_UNANSWERABLE_ANSWERED = 75.0


@pytest.fixture(scope="module")
def summary():
    kb = load()
    index = Index.load_or_build(kb, model_store.load())
    return summarise(run(index, load_cases()), kb)


def test_every_first_language_is_evaluated(summary):
    assert set(summary["languages"]) == set(TOP1_FLOOR)
    assert all(row["questions"] >= 100 for row in summary["languages"].values())


@pytest.mark.parametrize("lang", sorted(TOP1_FLOOR))
def test_top1_does_not_regress(summary, lang):
    assert summary["languages"][lang]["top1"] >= TOP1_FLOOR[lang]


@pytest.mark.parametrize("lang", sorted(TOP1_FLOOR))
def test_direct_answers_are_rarely_wrong(summary, lang):
    assert summary["languages"][lang]["answered_wrong"] <= MAX_WRONG_DIRECT_ANSWERS


def test_questions_nothing_answers_get_an_answer_no_more_often_than_today(summary):
    rates = [row["unanswerable_given_an_answer"] for row in summary["languages"].values()]
    assert sum(rates) / len(rates) <= MAX_UNANSWERABLE_ANSWERED


@pytest.fixture(scope="module")
def index():
    return Index.load_or_build(load(), model_store.load())


def _decide(index, text: str, lang: str):
    hits = index.search(text, lang, k=4)
    return Index.decide(
        hits, text, index.nearest_gap(text, lang, hits), lambda e: index.kb.entries[e].topic
    )


@pytest.mark.parametrize(
    "text, lang, gap",
    [
        ("how do I enrol my child in folkeskole", "en", "gap:school-and-daycare"),
        ("can i get money for my flat rent from kommune", "en", "gap:housing"),
        # the town names a region, whose out-of-hours doctor came first: its number was the
        # answer while a gap was never weighed against an emergency entry
        ("which supermarket in vejle sells halal chicken", "en", "gap:local-places"),
    ],
)
def test_a_question_about_a_known_gap_gets_the_honest_i_do_not_know(index, text, lang, gap):
    """Worded unlike knowledge/gaps.yml's own questions; without the gaps the first got the
    interpreter-fee answer."""
    d = _decide(index, text, lang)
    assert (d.kind, d.gap) == ("none", gap)


def test_a_shelter_question_is_never_taken_for_a_gap(index):
    d = _decide(index, "is there a place where i can sleep with my kids tonight", "en")
    assert d.gap is None and d.hits[0].entry_id == "violence-crisis-shelter"
