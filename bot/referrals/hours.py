"""Opening-hours maths: is someone answering now, and when will someone answer next.

Hours are wall-clock times in their own time zone (Europe/Copenhagen by default), so a
daylight-saving change moves nothing. No rows at all means "always open": a deployment that
has not set hours yet must not tell every woman that nobody will answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.referrals.models import OpeningHours
from common.clock import aware  # noqa: F401  (re-exported for the workspace)

DEFAULT_TZ = "Europe/Copenhagen"

WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "da": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
    "ar": ("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"),
    "so": ("Isniin", "Talaado", "Arbaco", "Khamiis", "Jimco", "Sabti", "Axad"),
    "uk": ("понеділок", "вівторок", "середа", "четвер", "пʼятниця", "субота", "неділя"),
    "fa": ("دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه", "شنبه", "یکشنبه"),
    "prs": ("دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه", "شنبه", "یکشنبه"),
    "ur": ("پیر", "منگل", "بدھ", "جمعرات", "جمعہ", "ہفتہ", "اتوار"),
    "tr": ("Pazartesi", "Salı", "Çarşamba", "Perşembe", "Cuma", "Cumartesi", "Pazar"),
    "ti": ("ሰኑይ", "ሰሉስ", "ረቡዕ", "ሓሙስ", "ዓርቢ", "ቀዳም", "ሰንበት"),
}


def _periods(db: Session) -> list[OpeningHours]:
    return list(db.scalars(select(OpeningHours).order_by(OpeningHours.weekday, OpeningHours.opens)))


def _spans(rows: list[OpeningHours], start: datetime, days: int):
    """(opens, closes) as aware datetimes for each period on the days from `start`'s date."""
    for row in rows:
        tz = ZoneInfo(row.timezone or DEFAULT_TZ)
        local = start.astimezone(tz)
        for d in range(-1, days + 1):
            day = (local + timedelta(days=d)).date()
            if day.weekday() != row.weekday:
                continue
            opens = datetime.combine(day, row.opens, tz)
            closes = datetime.combine(day, row.closes, tz)
            if closes <= opens:  # a period past midnight closes the next day
                closes += timedelta(days=1)
            yield opens, closes


def current_period(db: Session, now: datetime) -> tuple[datetime, datetime] | None:
    """The opening period `now` falls in, or None when closed. Always-open gives
    (datetime.min, datetime.max) in UTC."""
    rows = _periods(db)
    if not rows:
        return (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
    for opens, closes in _spans(rows, now, 1):
        if opens <= now < closes:
            return opens, closes
    return None


def open_now(db: Session, now: datetime) -> bool:
    return current_period(db, now) is not None


def next_opening(db: Session, now: datetime) -> datetime | None:
    """When counsellors next start answering (in the hours' own time zone); None when open
    now, or when no hours are set (always open), or when no day of the week has hours."""
    rows = _periods(db)
    if not rows or current_period(db, now) is not None:
        return None
    upcoming = sorted(o for o, _ in _spans(rows, now, 8) if o > now)
    return upcoming[0] if upcoming else None


def opening_text(when: datetime | None, language: str | None) -> str:
    """ "Monday 09:00" in her language, for utter_handoff_closed's {opens}."""
    if when is None:
        return ""
    names = WEEKDAYS.get(language or "en", WEEKDAYS["en"])
    return f"{names[when.weekday()]} {when:%H:%M}"
