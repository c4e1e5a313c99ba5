"""Words the workspace shows for codes: languages, topics, priorities, statuses, outcomes."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from langtools.langid import NAMES, SUPPORTED
from langtools.languages import ENGLISH

CPH = ZoneInfo("Europe/Copenhagen")

LANGUAGES = ENGLISH
LANGUAGE_CODES = tuple(SUPPORTED)
# written right to left: a text known to be in one of these is shown rtl even when it starts
# with a Danish term (dir="auto" would take the term's direction)
RTL = frozenset({"ar", "fa", "prs", "ur"})

TOPICS = {
    "violence": "Violence and safety",
    "health": "Health",
    "residence": "Residence permit",
    "citizenship": "Citizenship",
    "danish": "Danish courses",
    "rights": "Rights and money",
    "everyday": "Everyday life and family",
    "other": "Other",
}
PRIORITIES = {"emergency": "Emergency", "high": "High", "normal": "Normal"}
STATUSES = {
    "waiting": "Waiting",
    "assigned": "Claimed",
    "active": "In conversation",
    "resolved": "Resolved",
    "abandoned": "No contact",
    "expired": "Expired",
}
OUTCOMES = {
    "referred": "Referred to a service",
    "resolved_here": "Resolved in the conversation",
    "no_contact": "She could not be reached",
}
DELIVERY = {
    "queued": "waiting to be sent",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "NOT DELIVERED",
    "held": "HELD: her 24-hour window is closed; sent when she writes again",
    "created": "stored",
    "received": "",
    "processed": "",
    "pending": "waiting for the bot",
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ROLES = {"counsellor": "Counsellor", "editor": "Content editor", "admin": "Administrator"}


def copenhagen(value: str | datetime | None, fmt: str = "%H:%M") -> str:
    """A stored UTC time as the counsellors' wall clock (Copenhagen)."""
    if not value:
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(CPH).strftime(fmt)


def direction(language: str | None) -> str:
    """The dir attribute for a text in this language ("auto" where it is not known)."""
    return "rtl" if language in RTL else "auto"


def language(code: str | None) -> str:
    if not code:
        return "unknown"
    name = LANGUAGES.get(code, code)
    native = NAMES.get(code)
    return f"{name} ({native})" if native and native != name else name
