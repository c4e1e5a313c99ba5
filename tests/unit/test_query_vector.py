"""Her message's vector, carried from the gateway to Rasa and the action server
(langtools/query_vector.py): read back as sent, and only for the text it was made from."""

import base64

import numpy as np

from langtools import query_vector


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=query_vector.DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def test_a_vector_is_read_back_as_it_was_sent():
    v = _unit(1)
    got = query_vector.unpack(
        {"e5": query_vector.pack("hvor lærer jeg dansk", v)}, "hvor lærer jeg dansk"
    )
    assert got is not None and got.dtype == np.float32
    assert float(got @ v) > 0.99999


def test_whitespace_does_not_matter_but_the_words_do():
    metadata = {"e5": query_vector.pack("free  health check", _unit(2))}
    assert query_vector.unpack(metadata, " free health\ncheck ") is not None
    assert query_vector.unpack(metadata, "free health card") is None


def test_anything_else_is_no_vector():
    text = "hello"
    good = query_vector.pack(text, _unit(3))
    short = base64.b64encode(np.zeros(10, np.float16).tobytes()).decode()
    for metadata in (
        None,
        {},
        {"e5": "not a dict"},
        {"e5": {**good, "model": "another-model"}},
        {"e5": {**good, "v": "***not base64***"}},
        {"e5": {**good, "v": short}},
        {"e5": {**good, "v": base64.b64encode(np.zeros(384, np.float16).tobytes()).decode()}},
        {"e5": {**good, "v": 42}},
    ):
        assert query_vector.unpack(metadata, text) is None, metadata
