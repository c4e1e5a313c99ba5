"""The intent classifier's prediction shortcut (nlu/ngram_math.py) gives the numbers its
training features give: a wrong column or a missed normalisation would send "thanks" to
retrieval, or a question to "goodbye"."""

import numpy as np
import scipy.sparse as sp

from nlu import ngram_math


def test_logits_from_the_ngrams_a_message_has_equal_the_full_feature_product():
    rng = np.random.default_rng(7)
    ngrams, dense_dim, intents, messages = 500, 16, 9, 40
    counts = sp.random(messages, ngrams, density=0.03, format="csr", random_state=3)
    counts.data = rng.integers(1, 5, size=counts.nnz).astype(np.float64)
    counts.data[counts.indptr[5] : counts.indptr[6]] = 0  # no known n-gram: the embedding alone
    counts.eliminate_zeros()
    idf = rng.uniform(1.0, 6.0, size=ngrams)
    dense = rng.normal(size=(messages, dense_dim)) * 1.5
    coef = rng.normal(size=(intents, ngrams + dense_dim))
    intercept = rng.normal(size=intents)

    full = np.asarray(ngram_math.features(counts, idf, dense) @ coef.T) + intercept
    fast = ngram_math.Logits(idf, coef, intercept)(counts, dense)

    np.testing.assert_allclose(fast, full, rtol=1e-10, atol=1e-10)
    assert (fast.argmax(axis=1) == full.argmax(axis=1)).all()
