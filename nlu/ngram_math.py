"""The intent classifier's arithmetic (nlu/classifier.py), kept free of Rasa so that both
Pythons' tests can check it.

Training builds the whole feature matrix (sublinear tf-idf n-grams, unit length, beside the
weighted e5 embedding) and fits a logistic regression over it. At prediction time one message
has a few dozen n-grams out of tens of thousands, so `logits` reads only the coefficients of
those: the same numbers as `features(...) @ coef.T + intercept`, without building a sparse
matrix per message (that took about 4 ms of Rasa's 28 ms for a knowledge question).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear tf (1 + log count) times idf, each row scaled to unit length."""
    tf = counts.astype(np.float64).tocsr(copy=True)
    tf.data = 1.0 + np.log(tf.data)
    weighted = tf.multiply(idf.reshape(1, -1)).tocsr()
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1))).reshape(-1)
    norms[norms == 0] = 1.0
    return sp.diags(1.0 / norms) @ weighted


def features(counts: sp.csr_matrix, idf: np.ndarray, dense: np.ndarray) -> sp.csr_matrix:
    """The training features: tf-idf n-grams, then the (already weighted) dense embedding."""
    return sp.hstack([tfidf(counts, idf), sp.csr_matrix(dense)]).tocsr()


class Logits:
    """features(counts, idf, dense) @ coef.T + intercept, one message at a time, reading only
    the coefficient rows of the n-grams a message has."""

    def __init__(self, idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> None:
        width = len(idf)
        self.idf, self.intercept = idf, intercept
        self.ngram_coef = np.ascontiguousarray(coef[:, :width].T)  # (n-grams, intents)
        self.dense_coef = np.ascontiguousarray(coef[:, width:].T)  # (dense, intents)

    def __call__(self, counts: sp.csr_matrix, dense: np.ndarray) -> np.ndarray:
        counts = counts.tocsr()
        counts.sum_duplicates()
        out = dense @ self.dense_coef + self.intercept
        for i in range(counts.shape[0]):
            start, end = counts.indptr[i], counts.indptr[i + 1]
            columns = counts.indices[start:end]
            weights = (1.0 + np.log(counts.data[start:end].astype(np.float64))) * self.idf[columns]
            norm = np.sqrt(weights @ weights)
            if norm > 0:
                out[i] += (weights / norm) @ self.ngram_coef[columns]
        return out
