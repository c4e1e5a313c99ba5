"""The character n-gram scores that knowledge/index.py computes by hand (so that a publish
re-analyses only the changed entries) are scikit-learn's TfidfVectorizer's, and a second
build over the same texts reuses what the first analysed."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from knowledge.index import _char_counts, _CharNgrams, normalise

DOCS = {
    "card": "hvad er det gule sygesikringskort sundhedskort ما هي البطاقة الصحية الصفراء",
    "hotline": "violence hotline 1888 krisecenter voldshotline خط العنف",
    "course": "danskuddannelse Danish course sprogskole dansk kursus gratis",
}


def test_the_weights_are_scikit_learns():
    mine = _CharNgrams(DOCS)
    reference = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), preprocessor=normalise, sublinear_tf=True
    )
    matrix = reference.fit_transform([DOCS[i] for i in mine.ids]).T.tocsr()
    assert reference.vocabulary_ == mine._vocabulary
    assert np.allclose(reference.idf_, mine._idf, atol=1e-6)
    assert abs(matrix - mine.matrix).max() < 1e-6
    scores = mine.scores("sundhedskortet")
    assert mine.ids[int(np.argmax(scores))] == "card"


def test_a_second_index_reuses_the_analysed_texts():
    _CharNgrams(DOCS)
    hits = _char_counts.cache_info().hits
    changed = {**DOCS, "course": DOCS["course"] + " sprogcenter"}
    _CharNgrams(changed)
    assert _char_counts.cache_info().hits == hits + 2  # only the changed one analysed again
