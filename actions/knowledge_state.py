"""The knowledge base, the embedding model and the index, loaded once per process."""

from __future__ import annotations

import logging
import time
from functools import lru_cache

from knowledge import model_store
from knowledge.index import Index
from knowledge.store import KnowledgeBase, load

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def state() -> tuple[KnowledgeBase, Index]:
    start = time.perf_counter()
    kb = load()
    index = Index.load_or_build(kb, model_store.load())
    log.info(
        "knowledge loaded: %d entries, %d rows in %.1fs",
        len(kb.entries),
        len(index.row_entry),
        time.perf_counter() - start,
    )
    return kb, index


state()  # fail at start-up, not on a woman's first question
