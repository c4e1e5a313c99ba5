"""The status machines: a message or referral case only ever moves along the documented
table (so a sent reply is never sent again, a read one never goes back to delivered, a
resolved case never reopens), and `transition` claims rows atomically: its UPDATE moves only
the rows still in the old state."""

from __future__ import annotations

from itertools import product
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.storage.db import make_engine, migrate
from bot.storage.models import Contact, Message
from bot.storage.status import (
    CASE,
    MESSAGE,
    CaseStatus,
    IllegalTransition,
    Machine,
    MessageStatus,
    move,
    transition,
)

M, C = MessageStatus, CaseStatus

# The tables as bot/storage/status.py documents them, written out again on purpose: a move
# added to or dropped from the code's table fails here until the documentation agrees.
MESSAGE_MOVES = {
    (M.RECEIVED, M.PROCESSED),
    (M.RECEIVED, M.PENDING),  # Rasa or the action server unreachable
    (M.PENDING, M.PROCESSED),
    (M.QUEUED, M.SENDING),
    (M.QUEUED, M.DELIVERED),  # REST: fetched by her client
    (M.SENDING, M.SENT),
    (M.SENDING, M.QUEUED),  # temporary failure, with backoff
    (M.SENDING, M.FAILED),
    (M.SENDING, M.HELD),  # the channel's window was closed
    (M.HELD, M.QUEUED),  # she wrote again
    (M.SENT, M.DELIVERED),
    (M.SENT, M.READ),
    (M.SENT, M.FAILED),
    (M.DELIVERED, M.READ),
    (M.DELIVERED, M.FAILED),
}
CASE_MOVES = {
    (C.WAITING, C.WAITING),  # transferred to another language's queue
    (C.WAITING, C.ASSIGNED),
    (C.WAITING, C.RESOLVED),
    (C.WAITING, C.ABANDONED),
    (C.WAITING, C.EXPIRED),
    (C.ASSIGNED, C.ASSIGNED),  # transferred to a colleague
    (C.ASSIGNED, C.ACTIVE),
    (C.ASSIGNED, C.WAITING),  # released or timed out
    (C.ASSIGNED, C.RESOLVED),
    (C.ASSIGNED, C.ABANDONED),
    (C.ACTIVE, C.ACTIVE),
    (C.ACTIVE, C.ASSIGNED),
    (C.ACTIVE, C.WAITING),
    (C.ACTIVE, C.RESOLVED),
    (C.ACTIVE, C.ABANDONED),
}
MACHINES = [
    pytest.param(MESSAGE, MessageStatus, MESSAGE_MOVES, id="message"),
    pytest.param(CASE, CaseStatus, CASE_MOVES, id="case"),
]


def all_pairs(states):
    return list(product(states, states))


@pytest.mark.parametrize("machine, states, moves", MACHINES)
def test_the_table_is_exactly_the_documented_one(machine, states, moves):
    table = {(old, new) for old, targets in machine.table.items() for new in targets}
    assert table == moves


@pytest.mark.parametrize("machine, states, moves", MACHINES)
def test_every_allowed_move_sets_the_status(machine, states, moves):
    for old, new in sorted(moves):
        row = SimpleNamespace(status=str(old))
        machine.move(row, new)
        assert row.status == new, (old, new)
        assert machine.allowed(str(old), new)


@pytest.mark.parametrize("machine, states, moves", MACHINES)
def test_every_other_move_raises_and_leaves_the_row_as_it_was(machine, states, moves):
    refused = [(o, n) for o, n in all_pairs(states) if (o, n) not in moves]
    assert refused, "some moves must be refused"
    for old, new in refused:
        row = SimpleNamespace(status=str(old))
        with pytest.raises(IllegalTransition, match=f"{old} -> {new}"):
            machine.move(row, new)
        assert row.status == old, (old, new)
        assert not machine.allowed(str(old), new)


@pytest.mark.parametrize(
    "old, new",
    [
        (M.SENT, M.SENT),  # a reply is never sent twice through the table
        (M.READ, M.DELIVERED),  # a late "delivered" report never undoes "read"
        (M.FAILED, M.QUEUED),  # given up is given up
        (M.PROCESSED, M.RECEIVED),  # her message is not answered twice
        (M.QUEUED, M.SENT),  # a send always claims the row first (queued -> sending)
        (M.HELD, M.SENDING),
    ],
)
def test_moves_users_rely_on_never_happening_are_refused(old, new):
    with pytest.raises(IllegalTransition):
        move(SimpleNamespace(status=old), new)


@pytest.mark.parametrize("closed", [C.RESOLVED, C.ABANDONED, C.EXPIRED])
def test_a_closed_case_never_reopens(closed):
    for new in CaseStatus:
        with pytest.raises(IllegalTransition):
            CASE.move(SimpleNamespace(status=closed), new)


def test_the_module_verbs_are_the_message_machine():
    row = SimpleNamespace(status="queued")
    move(row, M.SENDING)
    assert row.status == "sending"
    with pytest.raises(IllegalTransition):
        transition(Message, M.RECEIVED, M.SENT)


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError):
        MESSAGE.move(SimpleNamespace(status="lost"), M.QUEUED)


def test_a_machine_without_a_row_for_every_state_is_refused():
    with pytest.raises(ValueError, match="no row"):
        Machine("broken", MessageStatus, {M.RECEIVED: frozenset({M.PROCESSED})})


def test_transition_is_refused_before_any_sql_for_an_illegal_move():
    for old, new in all_pairs(MessageStatus):
        if (old, new) in MESSAGE_MOVES:
            assert transition(Message, old, new) is not None
        else:
            with pytest.raises(IllegalTransition):
                transition(Message, old, new)


def test_transition_builds_a_conditional_update_on_the_old_status():
    sql = str(
        transition(Message, M.QUEUED, M.SENDING).compile(compile_kwargs={"literal_binds": True})
    )
    assert sql.startswith("UPDATE messages SET status='sending'")
    assert "WHERE messages.status = 'queued'" in sql


# -- against a database: the UPDATE moves only rows still in the old state -------------------
@pytest.fixture
def db(sqlite_url):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        her = Contact(channel="telegram", user_hash="h")
        session.add(her)
        session.flush()
        for status in ("queued", "queued", "sending", "sent", "held", "failed"):
            session.add(Message(contact_id=her.id, direction="out", text=status, status=status))
        session.commit()
        yield session
    engine.dispose()


def statuses(db: Session) -> list[str]:
    return list(db.scalars(select(Message.status).order_by(Message.id)))


def test_the_update_moves_only_rows_in_the_old_state(db):
    moved = db.execute(transition(Message, M.QUEUED, M.SENDING)).rowcount
    db.commit()
    assert moved == 2
    assert statuses(db) == ["sending", "sending", "sending", "sent", "held", "failed"]


def test_a_claim_narrowed_to_one_row_wins_once(db):
    first = db.scalar(select(func.min(Message.id)).where(Message.status == "queued"))
    claim = transition(Message, M.QUEUED, M.SENDING).where(Message.id == first)
    assert db.execute(claim).rowcount == 1
    db.commit()
    assert db.execute(claim).rowcount == 0, "a second worker claiming the same row gets nothing"
    db.commit()
    assert statuses(db) == ["sending", "queued", "sending", "sent", "held", "failed"]


def test_values_can_be_added_to_the_update(db):
    release = transition(Message, M.HELD, M.QUEUED).values(last_error="released")
    assert db.execute(release).rowcount == 1
    db.commit()
    row = next(m for m in db.scalars(select(Message)) if m.text == "held")  # encrypted column
    assert (row.status, row.last_error) == ("queued", "released")
    assert db.scalar(select(func.count()).where(Message.last_error.is_not(None))) == 1
