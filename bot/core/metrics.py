"""Prometheus metrics of the gateway, served at GET /metrics (gateway/app.py) in the text
format Prometheus scrapes (prometheus-client). What they count, and nothing about any one
woman (no contact, no language pair that could single her out, no text):

- `bot_messages_total{channel, outcome}`: her messages by what happened to them: answered,
  danger (the emergency numbers went first), held_case (a counsellor holds her case: the bot
  stayed silent), pending (Rasa unreachable: kept and answered later), duplicate (a
  platform's redelivery), erased (she deleted her data), unstored (the database failed: the
  safe reply went out without storage);
- `bot_answer_seconds{channel}`: from her message to the replies being ready (histogram);
- `bot_deliveries_total{channel, result}`: sends to Telegram and WhatsApp: sent, retry
  (a temporary error, tried again later), failed (for good), held (her 24-hour window is
  closed);
- `bot_queue_depth{queue}`, read from the database at each scrape: cases waiting by
  priority (`cases_emergency`, `cases_high`, `cases_normal`) and replies not yet sent
  (`outbound_queued`, `outbound_held`).

Each process has its own counts (a Prometheus server adds up several gateways). Metrics
never cost her an answer: recording is in-memory and cannot fail on the database.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.referrals.models import PRIORITY_NAMES, Case
from bot.storage.models import Message

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()  # this module's own: never the process-wide default
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

MESSAGES = Counter(
    "bot_messages",
    "Her messages by channel and by what happened to them",
    ["channel", "outcome"],
    registry=REGISTRY,
)
ANSWER_SECONDS = Histogram(
    "bot_answer_seconds",
    "From her message to the replies being ready",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "bot_deliveries",
    "Sends to the push channels by result",
    ["channel", "result"],
    registry=REGISTRY,
)


def outcome_of(outcome) -> str:
    """The `outcome` label of one handled message (bot/core/pipeline.py Outcome)."""
    if outcome.duplicate:
        return "duplicate"
    if not outcome.stored:
        return "unstored"
    if outcome.erased:
        return "erased"
    if outcome.danger:
        return "danger"
    if outcome.silent:
        return "held_case"
    if outcome.pending:
        return "pending"
    return "answered"


class _QueueDepth:
    """Reads the queues' depth from the database when Prometheus scrapes."""

    def __init__(self):
        self.engine: Engine | None = None

    def collect(self):
        gauge = GaugeMetricFamily(
            "bot_queue_depth", "Cases waiting and replies not yet sent", labels=["queue"]
        )
        if self.engine is not None:
            try:
                for name, value in self._depths():
                    gauge.add_metric([name], value)
            except Exception:  # a scrape during a database outage shows no depth
                log.warning("queue depth not read: the database did not answer")
        yield gauge

    def _depths(self):
        with Session(self.engine) as db:
            waiting = dict(
                db.execute(
                    select(Case.priority, func.count())
                    .where(Case.status == "waiting")
                    .group_by(Case.priority)
                ).all()
            )
            out = dict(
                db.execute(
                    select(Message.status, func.count())
                    .where(Message.direction == "out", Message.status.in_(("queued", "held")))
                    .group_by(Message.status)
                ).all()
            )
        for priority, name in PRIORITY_NAMES.items():
            yield f"cases_{name}", waiting.get(priority, 0)
        yield "outbound_queued", out.get("queued", 0)
        yield "outbound_held", out.get("held", 0)


DEPTH = _QueueDepth()
REGISTRY.register(DEPTH)


def use_engine(engine: Engine) -> None:
    """The database the queue depth is read from (the gateway's, at start)."""
    DEPTH.engine = engine


def exposition() -> bytes:
    return generate_latest(REGISTRY)
