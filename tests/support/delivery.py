"""Knowing that the delivery worker has nothing left to send, from the database it works on,
so a test can say "nothing more arrived" without sleeping and hoping.

The gateway answers a Telegram or WhatsApp webhook only after her message went through the
pipeline and its replies were stored `queued`. The worker then moves each reply queued ->
sending -> sent (or failed, or held), and the platform (a fake in tests/support) has the
message before the row leaves `sending`. So once the webhook has answered and no outbound
row on a push channel is `queued` or `sending`, everything that message caused has reached
the fake chat, and anything that arrives later was caused by something else.

A reply waiting for a retry (queued with a later next_attempt_at) counts as not delivered:
the wait then runs to its timeout and says how many rows are left.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, func, select

from bot.core.outbox import PUSH_CHANNELS
from bot.storage.models import Contact, Message
from tests.support.waiting import wait_for

IN_FLIGHT = ("queued", "sending")


def undelivered(engine: Engine, channels=PUSH_CHANNELS) -> int:
    """Outbound messages on these channels that the worker has not finished with."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(Message)
            .join(Contact, Contact.id == Message.contact_id)
            .where(
                Message.direction == "out",
                Message.status.in_(IN_FLIGHT),
                Contact.channel.in_(list(channels)),
            )
        ).scalar_one()


def wait_until_delivered(
    engine: Engine | str, channels=PUSH_CHANNELS, timeout: float = 30.0, what: str = ""
) -> None:
    """Returns once nothing on these channels is queued or being sent; fails the test after
    `timeout` seconds. `engine` may be a database URL (e.g. the e2e stack's)."""
    own = isinstance(engine, str)
    db = create_engine(engine) if isinstance(engine, str) else engine
    try:
        wait_for(
            lambda: undelivered(db, channels) == 0,
            timeout=timeout,
            what=what or f"the delivery worker to finish on {sorted(channels)}",
        )
    except AssertionError as exc:
        raise AssertionError(
            f"{exc} ({undelivered(db, channels)} still queued or sending)"
        ) from exc
    finally:
        if own:
            db.dispose()
