"""The action server's published content (actions/knowledge_state.py): a publish is swapped
in, and a database that goes away never makes it fall back to the repository's YAML, which
would silently undo what editors published."""

from __future__ import annotations

from sqlalchemy import create_engine

from actions import knowledge_state
from bot.storage.db import migrate
from knowledge import content
from knowledge.store import load

HOTLINE = "violence-hotline-1888"


def test_a_publish_is_swapped_in_and_a_database_outage_keeps_it(sqlite_url, monkeypatch):
    migrate(sqlite_url)
    engine = create_engine(sqlite_url)
    content.sync(engine, load())
    monkeypatch.setattr(knowledge_state, "_engine", engine)
    monkeypatch.setattr(knowledge_state, "_revision", -1)
    knowledge_state.state()  # loaded at import from the default database
    assert knowledge_state.refresh()  # this database's content
    _, data = content.current(engine, "entry", HOTLINE)
    data["questions"]["en"].append("who answers the 1888 line at night")
    content.save_draft(engine, "entry", HOTLINE, data, "Eva")
    content.publish(engine, "entry", HOTLINE, "Eva")
    assert knowledge_state.refresh()
    kb, index = knowledge_state.state()
    assert "who answers the 1888 line at night" in kb.entries[HOTLINE].questions["en"]
    assert "who answers the 1888 line at night" in index.row_text

    away = create_engine("sqlite:////nonexistent-dir/none.db")  # the database is away
    monkeypatch.setattr(knowledge_state, "_engine", away)
    assert not knowledge_state.refresh()
    kb, _ = knowledge_state.state()
    assert "who answers the 1888 line at night" in kb.entries[HOTLINE].questions["en"]
