"""The knowledge base, the embedding model and the index this action server answers from.

Loaded once at start: the content editors publish (knowledge/content.py) when the database
has been seeded, else the repository's YAML. A watcher thread then reads the content's
revision every CONTENT_POLL_S (default 0.1 s); when an editor publishes, it builds a new
index that embeds only the changed questions (knowledge/index.py `Index.updated`) and swaps
the pair in one assignment. An answer being written keeps the pair it began with, so a
publish never interrupts a conversation, and the next answer uses the new text.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from sqlalchemy import Engine, create_engine

from common.storage import database_url
from knowledge import content, model_store
from knowledge.index import Index, fingerprint
from knowledge.store import KnowledgeBase, load

log = logging.getLogger(__name__)
POLL_S = float(os.environ.get("CONTENT_POLL_S", "0.1"))

_serving: tuple[KnowledgeBase, Index] | None = None
_revision = -1
_engine: Engine | None = None
_lock = threading.Lock()  # one rebuild at a time (the watcher, or a test calling refresh)


def state() -> tuple[KnowledgeBase, Index]:
    """The knowledge base and its index, as one pair."""
    if _serving is None:
        _start()
    assert _serving is not None
    return _serving


def revision() -> int:
    return _revision


def _engine_for() -> Engine:
    global _engine
    if _engine is None:
        url = database_url()
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        _engine = create_engine(url, connect_args=args, pool_pre_ping=True)
    return _engine


def _content() -> tuple[int, KnowledgeBase]:
    """(revision, what to serve): the published content, or the YAML before seeding."""
    engine = _engine_for()
    rev = content.revision(engine)
    kb = content.published(engine) if rev else None
    return rev, (kb if kb is not None else load())


def _start() -> None:
    global _serving, _revision
    with _lock:
        if _serving is not None:
            return
        start = time.perf_counter()
        rev, kb = _content()
        index = Index.load_or_build(kb, model_store.for_queries())
        _serving, _revision = (kb, index), rev
        log.info(
            "knowledge loaded (revision %d): %d entries, %d rows in %.1fs, %d embedded",
            rev,
            len(kb.entries),
            len(index.row_entry),
            time.perf_counter() - start,
            index.encoded,
        )


def refresh() -> bool:
    """Swaps in the published content when its revision moved; whether it did."""
    global _serving, _revision
    with _lock:
        engine = _engine_for()
        rev = content.revision(engine)
        if rev == _revision or _serving is None:
            return False
        if rev == 0 and _revision > 0:  # the database is away (or its tables): keep serving
            return False
        start = time.perf_counter()
        kb = content.published(engine) if rev else load()
        if kb is None:  # it went away between the two reads: keep serving, look again
            return False
        old_kb, old_index = _serving
        if fingerprint(kb) == fingerprint(old_kb):  # seeded with what was already served
            _serving, _revision = (kb, old_index), rev
            return True
        index = old_index.updated(kb)
        _serving, _revision = (kb, index), rev
    log.info(
        "knowledge revision %d: %d entries, %d texts embedded, swapped in %.2fs",
        rev,
        len(kb.entries),
        index.encoded,
        time.perf_counter() - start,
    )
    try:
        index.save()  # the next start embeds nothing
    except OSError:
        log.exception("could not save the index; the next start embeds the changes again")
    return True


def _watch() -> None:
    while True:
        time.sleep(POLL_S)
        try:
            refresh()
        except Exception:  # the database away for a moment: keep serving, try again
            log.exception("could not read the published content")


state()  # fail at start-up, not on a woman's first question
threading.Thread(target=_watch, name="content-watch", daemon=True).start()
