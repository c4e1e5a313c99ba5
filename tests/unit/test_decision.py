"""The first reply follows the calibrated probability that the best entry is right
(knowledge/confidence.py): answer it, give the two best answers, ask back, or say honestly
that the bot does not know."""

from knowledge import confidence
from knowledge.index import (
    ANSWER_P,
    BOTH_P,
    CLARIFY_THRESHOLD,
    GAP_MARGIN,
    SURE_P,
    Gap,
    Hit,
    Index,
)


def _hits(*scores: float) -> list[Hit]:
    return [Hit(f"entry-{i}", s, s, 0.0) for i, s in enumerate(scores)]


CLEAR = _hits(1.05, 0.93, 0.92)  # one entry far ahead
CLOSE = _hits(1.00, 0.998, 0.96)  # two entries neck and neck
WEAK = _hits(0.80, 0.795, 0.79)  # nothing stands out
NOTHING = _hits(0.70, 0.69, 0.68)


def test_the_probability_rises_with_the_lead_of_the_best_entry():
    assert confidence.probability(CLEAR) > confidence.probability(CLOSE)
    assert confidence.probability(CLOSE) > confidence.probability(WEAK)
    assert confidence.probability([]) == 0.0


def test_a_clear_best_entry_is_answered_alone():
    d = Index.decide(CLEAR, "where do I get a health card")
    assert confidence.probability(CLEAR) >= SURE_P
    assert (d.kind, [h.entry_id for h in d.hits]) == ("answer", ["entry-0"])


def test_two_close_entries_give_both_answers():
    p = confidence.probability(CLOSE)
    assert BOTH_P <= p < ANSWER_P
    d = Index.decide(CLOSE, "is the interpreter free for me")
    assert (d.kind, [h.entry_id for h in d.hits]) == ("both", ["entry-0", "entry-1"])


def test_an_emergency_answer_is_not_given_beside_another_topics_answer():
    """Two close entries, the second about 112: the first is answered alone and the 112
    answer offered under it, as one tap. Two emergency or violence answers stay together."""
    topics = {"entry-0": "health", "entry-1": "emergency"}
    d = Index.decide(CLOSE, "is the interpreter free for me", topic=topics.__getitem__)
    assert (d.kind, [h.entry_id for h in d.hits]) == ("answer", ["entry-0", "entry-1"])
    topics = {"entry-0": "violence", "entry-1": "emergency"}
    d = Index.decide(CLOSE, "he hit me what do i do", topic=topics.__getitem__)
    assert d.kind == "both"
    topics = {"entry-0": "emergency", "entry-1": "health"}
    assert Index.decide(CLOSE, "112 and then the doctor", topic=topics.__getitem__).kind == "both"


def test_one_word_is_asked_back_rather_than_given_two_guesses():
    d = Index.decide(CLOSE, "interpreter")
    assert d.kind == "clarify" and [h.entry_id for h in d.hits] == ["entry-0", "entry-1", "entry-2"]


def test_nothing_likely_is_asked_back_and_nothing_close_is_i_dont_know():
    assert confidence.probability(WEAK) < BOTH_P and WEAK[0].score >= CLARIFY_THRESHOLD
    assert Index.decide(WEAK, "what about the thing").kind == "clarify"
    assert Index.decide(NOTHING, "when does the bus leave").kind == "none"
    assert Index.decide([], "anything").kind == "none"


def test_a_question_nearer_a_known_gap_than_any_entry_is_not_answered():
    """'How do I register my son for school' shares words with the Danish-course entry: the
    gap it is about (knowledge/gaps.yml) is nearer, so she is told honestly."""
    d = Index.decide(
        CLEAR,
        "how do i register my son for school",
        Gap("gap:school", CLEAR[0].dense + GAP_MARGIN + 0.01),
    )
    assert (d.kind, d.gap) == ("none", "gap:school")


def test_a_gap_further_than_the_best_entry_changes_nothing():
    d = Index.decide(
        CLEAR, "where do I get a health card", Gap("gap:school", CLEAR[0].dense + GAP_MARGIN - 0.05)
    )
    assert (d.kind, d.gap) == ("answer", None)
