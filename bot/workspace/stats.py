"""Team statistics for the team lead (admins): `/workspace/stats`, over the last 7, 30 or 90
days, with the plots of bot/workspace/plots.py (shared with the editors' dashboard) and the
numbers in tables beside them: cases per day, by language and by topic; the time from her
request to a claim and to a counsellor's first reply (median and 90th percentile, and how
many waited how long); outcomes; the services she was referred to.

Counts over cases only: no woman, no text, no counsellor's workload per person.

May touch: `cases` (read).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.referrals.hours import aware
from bot.referrals.models import Case
from bot.storage.models import utcnow
from bot.workspace import labels, plots
from bot.workspace.cases import Refused
from bot.workspace.dashboard import PERIODS, percentile
from bot.workspace.deps import db_session, web_login
from bot.workspace.web import page

ADMINS = ("admin",)
# how long she waited, in minutes: the buckets of the waiting plots
BUCKETS = (
    (5, "under 5 min"),
    (15, "5-15 min"),
    (60, "15-60 min"),
    (240, "1-4 h"),
    (None, "over 4 h"),
)
PLOTS = ("per_day", "languages", "topics", "to_claim", "to_reply", "outcomes", "services")
router = APIRouter(include_in_schema=False)


@dataclass
class Team:
    days: int
    per_day: list[tuple[str, int]]
    languages: list[tuple[str, int]]  # (code, cases)
    topics: list[tuple[str, int]]
    to_claim: list[float]  # minutes, one per claimed case
    to_reply: list[float]
    outcomes: list[tuple[str, int]]
    services: list[tuple[str, int]]


def team(db: Session, days: int, now: datetime | None = None) -> Team:
    now = now or utcnow()
    since = now - timedelta(days=days)
    rows = list(db.scalars(select(Case).where(Case.created_at >= since)))
    start = since.date()
    axis = [(start + timedelta(days=i + 1)).isoformat() for i in range(days)]
    per_day = Counter(aware(c.created_at).date().isoformat() for c in rows)

    def minutes(later, earlier) -> float:
        return (aware(later) - aware(earlier)).total_seconds() / 60

    by_count = lambda counter: sorted(counter.items(), key=lambda x: -x[1])  # noqa: E731
    return Team(
        days=days,
        per_day=[(d, per_day.get(d, 0)) for d in axis],
        languages=by_count(Counter(c.language for c in rows)),
        topics=by_count(Counter(c.topic for c in rows)),
        to_claim=sorted(minutes(c.assigned_at, c.created_at) for c in rows if c.assigned_at),
        to_reply=sorted(minutes(c.first_reply_at, c.created_at) for c in rows if c.first_reply_at),
        outcomes=by_count(Counter(c.outcome for c in rows if c.outcome)),
        services=by_count(
            Counter(" ".join(c.referred_service.split()) for c in rows if c.referred_service)
        ),
    )


def buckets(values: list[float]) -> list[tuple[str, int]]:
    out = []
    low = 0.0
    for high, label in BUCKETS:
        out.append((label, sum(1 for v in values if v >= low and (high is None or v < high))))
        low = high or low
    return out


def _days(days: int) -> int:
    return days if days in PERIODS else 30


@router.get("/workspace/stats")
def stats_page(request: Request, days: int = 30, db: Session = Depends(db_session)):
    login = web_login(request, db, ADMINS)
    t = team(db, _days(days))
    db.commit()
    return page(
        request,
        "stats.html",
        login,
        t=t,
        periods=PERIODS,
        claim=(percentile(t.to_claim, 50), percentile(t.to_claim, 90)),
        reply=(percentile(t.to_reply, 50), percentile(t.to_reply, 90)),
        claim_buckets=buckets(t.to_claim),
        reply_buckets=buckets(t.to_reply),
        total=sum(n for _, n in t.per_day),
    )


@router.get("/workspace/stats/{name}.svg")
def stats_plot(name: str, request: Request, days: int = 30, db: Session = Depends(db_session)):
    web_login(request, db, ADMINS)
    if name not in PLOTS:
        raise Refused(404, "There is no such plot.")
    t = team(db, _days(days))
    db.commit()
    if name == "per_day":
        svg = plots.bars([d[5:] for d, _ in t.per_day], [n for _, n in t.per_day], "cases")
    elif name in ("to_claim", "to_reply"):
        counts = buckets(t.to_claim if name == "to_claim" else t.to_reply)
        svg = plots.bars([x for x, _ in counts], [n for _, n in counts], "cases")
    else:
        pairs = getattr(t, name)
        names = {
            "languages": labels.LANGUAGES,
            "topics": labels.TOPICS,
            "outcomes": labels.OUTCOMES,
        }.get(name, {})
        svg = plots.horizontal([names.get(k, k) for k, _ in pairs], [n for _, n in pairs], "cases")
    return Response(svg, media_type="image/svg+xml", headers={"Content-Security-Policy": plots.CSP})
