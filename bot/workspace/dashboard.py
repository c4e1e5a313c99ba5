"""The editors' dashboard: `/workspace/dashboard` (editors and admins), over the last 7, 30
or 90 days. Plots (bot/workspace/plots.py, SVG from the server) with their numbers in
tables beside them:

- conversations per day: women who wrote that day (messages kept; erased with her data);
- languages: women by the language of their messages;
- what the bot did, per language: answered, two answers, asked back, "I don't know", the
  town asked, the emergency numbers (`reply_stats`, bot/storage/stats.py: no link to her);
- topics of the answers given;
- handoffs per day, and the time to a counsellor's first reply (median and 90th percentile);
- "Was this helpful?" per entry; entries due for review; stale translations per language.

Nothing here names or counts one woman: every figure is a count over the period.

May touch: `messages`, `reply_stats`, `cases`, `feedback` (read), the published content.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.referrals.hours import aware
from bot.referrals.models import Case
from bot.storage.models import Feedback, Message, ReplyStat, utcnow
from bot.workspace import labels, plots
from bot.workspace.cases import Refused
from bot.workspace.deps import db_session, web_login
from bot.workspace.web import page
from knowledge import content
from knowledge.schema import TRANSLATED_LANGUAGES

EDITORS = ("editor", "admin")
PERIODS = (7, 30, 90)
OUTCOMES = {
    "answered": "answered",
    "both": "two answers",
    "asked_back": "asked back",
    "dont_know": "“I don't know”",
    "region_asked": "town asked",
    "danger": "emergency numbers",
}
REVIEW_AHEAD_DAYS = 30  # "due for review": past its date or within this many days
# the plots, each at /workspace/dashboard/<name>.svg, from the same figures as the page
PLOTS = ("conversations", "languages", "outcomes", "topics", "handoffs", "stale")
router = APIRouter(include_in_schema=False)


@dataclass
class Figures:
    days: int
    since: datetime
    conversations: list[tuple[str, int]]  # (day, women who wrote)
    languages: list[tuple[str, int]]  # (language code, women)
    outcomes: dict[str, Counter]  # language -> outcome -> replies
    topics: list[tuple[str, int]]
    handoffs: list[tuple[str, int]]  # (day, cases)
    first_reply_minutes: list[float]
    helpful: list[tuple[str, int, int]]  # (entry, helpful, all)
    due: list[tuple[str, date]]
    stale: list[tuple[str, int]]  # (language code, entries)


def _days(days: int) -> int:
    return days if days in PERIODS else 30


def _day_axis(since: datetime, days: int) -> list[str]:
    start = since.date()
    return [(start + timedelta(days=i + 1)).isoformat() for i in range(days)]


def _per_day(rows, since: datetime, days: int) -> list[tuple[str, int]]:
    counts = Counter({str(day)[:10]: n for day, n in rows})
    return [(d, counts.get(d, 0)) for d in _day_axis(since, days)]


def figures(db: Session, kb, days: int, now: datetime | None = None) -> Figures:
    now = now or utcnow()
    since = now - timedelta(days=days)
    inbound = (Message.direction == "in", Message.created_at >= since)
    day = func.date(Message.created_at)
    conversations = _per_day(
        db.execute(
            select(day, func.count(func.distinct(Message.contact_id))).where(*inbound).group_by(day)
        ),
        since,
        days,
    )
    languages = sorted(
        (
            (lang or "?", n)
            for lang, n in db.execute(
                select(Message.language, func.count(func.distinct(Message.contact_id)))
                .where(*inbound)
                .group_by(Message.language)
            )
        ),
        key=lambda x: -x[1],
    )
    outcomes: dict[str, Counter] = {}
    topics: Counter = Counter()
    for lang, outcome, topic, n in db.execute(
        select(ReplyStat.language, ReplyStat.outcome, ReplyStat.topic, func.count())
        .where(ReplyStat.day >= since.date())
        .group_by(ReplyStat.language, ReplyStat.outcome, ReplyStat.topic)
    ):
        outcomes.setdefault(lang, Counter())[outcome] += n
        if topic and outcome != "asked_back":
            topics[topic] += n
    case_day = func.date(Case.created_at)
    handoffs = _per_day(
        db.execute(
            select(case_day, func.count()).where(Case.created_at >= since).group_by(case_day)
        ),
        since,
        days,
    )
    first_reply = [
        (aware(replied) - aware(created)).total_seconds() / 60
        for created, replied in db.execute(
            select(Case.created_at, Case.first_reply_at).where(
                Case.created_at >= since, Case.first_reply_at.is_not(None)
            )
        )
    ]
    helpful = [
        (entry or "?", int(yes or 0), int(total))
        for entry, yes, total in db.execute(
            select(
                Feedback.entry_id,
                func.sum(sql_case((Feedback.helpful, 1), else_=0)),
                func.count(),
            )
            .where(Feedback.created_at >= since)
            .group_by(Feedback.entry_id)
        )
    ]
    helpful.sort(key=lambda x: (x[1] / x[2] if x[2] else 1, -x[2]))
    horizon = now.date() + timedelta(days=REVIEW_AHEAD_DAYS)
    due = sorted(
        (
            (eid, e.review_by)
            for eid, e in kb.entries.items()
            if e.review_by and e.review_by <= horizon
        ),
        key=lambda x: x[1],
    )
    stale = [
        (
            lang,
            sum(1 for e in kb.entries.values() if e.translation_state(lang) == "stale"),
        )
        for lang in TRANSLATED_LANGUAGES
    ]
    return Figures(
        days,
        since,
        conversations,
        languages,
        outcomes,
        sorted(topics.items(), key=lambda x: -x[1]),
        handoffs,
        sorted(first_reply),
        helpful,
        due,
        stale,
    )


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def shares(outcomes: dict[str, Counter]) -> tuple[list[str], dict[str, list[float]]]:
    """Per language, each outcome's share of the bot's replies."""
    langs = sorted(outcomes, key=lambda x: -sum(outcomes[x].values()))
    parts = {
        label: [outcomes[lang][key] / (sum(outcomes[lang].values()) or 1) for lang in langs]
        for key, label in OUTCOMES.items()
    }
    return [_name(lang) for lang in langs], parts


def _name(code: str) -> str:
    """A language's English name, for plot labels (see bot/workspace/plots.py)."""
    return labels.LANGUAGES.get(code, code)


def _kb(request: Request):
    kb = content.published(request.app.state.engine)
    if kb is None:
        raise Refused(503, "The content has not been loaded into the database yet.")
    return kb


@router.get("/workspace/dashboard")
def dashboard(request: Request, days: int = 30, db: Session = Depends(db_session)):
    login = web_login(request, db, EDITORS)
    found = figures(db, _kb(request), _days(days))
    db.commit()
    return page(
        request,
        "dashboard.html",
        login,
        f=found,
        periods=PERIODS,
        outcome_names=OUTCOMES,
        median=percentile(found.first_reply_minutes, 50),
        p90=percentile(found.first_reply_minutes, 90),
        total_conversations=sum(n for _, n in found.conversations),
    )


@router.get("/workspace/dashboard/{name}.svg")
def plot(name: str, request: Request, days: int = 30, db: Session = Depends(db_session)):
    web_login(request, db, EDITORS)
    if name not in PLOTS:
        raise Refused(404, "There is no such plot.")
    f = figures(db, _kb(request), _days(days))
    db.commit()
    if name == "conversations":
        svg = plots.bars(
            [d[5:] for d, _ in f.conversations], [n for _, n in f.conversations], "women"
        )
    elif name == "languages":
        svg = plots.horizontal(
            [_name(x) for x, _ in f.languages], [n for _, n in f.languages], "women"
        )
    elif name == "outcomes":
        svg = plots.stacked_shares(*shares(f.outcomes))
    elif name == "topics":
        svg = plots.horizontal(
            [labels.TOPICS.get(t, t) for t, _ in f.topics], [n for _, n in f.topics], "answers"
        )
    elif name == "handoffs":
        svg = plots.bars([d[5:] for d, _ in f.handoffs], [n for _, n in f.handoffs], "cases")
    else:
        svg = plots.horizontal(
            [_name(x) for x, _ in f.stale], [n for _, n in f.stale], "stale entries"
        )
    return Response(svg, media_type="image/svg+xml", headers={"Content-Security-Policy": plots.CSP})
