"""How likely retrieval's best entry is to answer her: a calibrated probability.

Raw hybrid scores are not probabilities: e5 similarities bunch between 0.8 and 1.05, and a
score of 0.97 means "right" for one question and "a near miss" for another. What tells them
apart is the shape of the ranking, so a logistic regression reads five numbers of each search:

    best score, its lead over the second and over the third, the best entry's dense score,
    and its BM25 share

and says how often the best entry is the right one. It is fitted on tests/eval (1,727
labelled questions in nine languages, 90 of them unanswerable, counted as "not right"), and
its calibration is checked on held-out folds of that set: the expected calibration error
(the mean gap between predicted and observed rates over ten bins) is in confidence.json and in
knowledge/calibration.md. The thresholds that turn the probability into a reply
(knowledge/index.py) were chosen on the blind dev half only.

    python -m knowledge.confidence      # refit on tests/eval, write knowledge/confidence.json

Refit after a change to the scoring or a large change to the knowledge base; the weights are
five numbers kept in git, so the change shows in review.

The length of her message was tried as a sixth number: it fitted tests/eval slightly better
and the blind dev half much worse (calibration error 0.13 against 0.055), because the blind
set's short messages are answered right more often than tests/eval's.
"""

from __future__ import annotations

import json
import math
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from knowledge.index import Hit

WEIGHTS = Path(__file__).resolve().parent / "confidence.json"
FEATURES = ("best", "lead over 2nd", "lead over 3rd", "best dense", "best BM25")
FOLDS = 5


def features(hits: list[Hit]) -> list[float]:
    scores = [h.score for h in hits] + [0.0, 0.0]
    return [
        scores[0],
        scores[0] - scores[1],
        scores[0] - scores[2],
        hits[0].dense,
        hits[0].lexical,
    ]


@cache
def _weights() -> tuple[np.ndarray, float]:
    data = json.loads(WEIGHTS.read_text())
    return np.array(data["coef"], dtype=float), float(data["intercept"])


def probability(hits: list[Hit]) -> float:
    """The probability that hits[0] answers the question (0 when nothing was found)."""
    if not hits:
        return 0.0
    coef, intercept = _weights()
    z = float(np.dot(coef, features(hits))) + intercept
    return 1.0 / (1.0 + math.exp(-z))


def calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    which = np.minimum((p * bins).astype(int), bins - 1)
    return float(
        sum(
            (which == b).mean() * abs(p[which == b].mean() - y[which == b].mean())
            for b in range(bins)
            if (which == b).any()
        )
    )


def fit(x: np.ndarray, y: np.ndarray) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    model = LogisticRegression(C=10.0, max_iter=1000)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    held_out = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    model.fit(x, y)
    return {
        "features": list(FEATURES),
        "coef": [round(float(c), 6) for c in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
        "fitted_on": f"tests/eval: {len(y)} questions, {int(y.sum())} answered right at top-1",
        "held_out_calibration_error": round(calibration_error(held_out, y), 4),
        "held_out_reliability": _reliability(held_out, y),
    }


def _reliability(p: np.ndarray, y: np.ndarray) -> list[dict]:
    out = []
    for lo, hi in ((0, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01)):
        m = (p >= lo) & (p < hi)
        if m.any():
            out.append(
                {
                    "predicted": f"{lo:.2f}-{min(hi, 1):.2f}",
                    "questions": int(m.sum()),
                    "mean_predicted": round(float(p[m].mean()), 3),
                    "right": round(float(y[m].mean()), 3),
                }
            )
    return out


def main() -> int:
    from knowledge import model_store
    from knowledge.evaluate import load_cases, run
    from knowledge.index import Index
    from knowledge.store import load

    kb = load()
    index = Index.load_or_build(kb, model_store.load())
    results = run(index, load_cases())
    x = np.array([features(hits) for _, hits, _ in results])
    y = np.array(
        [int(c.expected is not None and h[0].entry_id == c.expected) for c, h, _ in results]
    )
    data = fit(x, y)
    WEIGHTS.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(data, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
