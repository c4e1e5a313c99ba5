"""Checks that go beyond the schema: what an editor must fix before an answer can be trusted.

Errors (exit 1): schema errors, placeholders naming unknown or unlisted services, numbers that
differ in value between the English text and the Danish text or a translation (each language read
in its own number style, see NUMBER_STYLES), a thousands separator written in another language's
style (ambiguous: "1,675" in Danish reads as 1.675), placeholders that differ between languages, a
service phone number written out instead of as a placeholder, and an entry that states something
the fact sheet marks CHANGES OFTEN (an amount, a fee, opening hours, or a source flagged
"[CHANGES OFTEN]") without a `review_by` date.
Warnings: missing, unstamped or stale translations, too few example questions, entries past
their review date, promise words ("must offer", "guaranteed", "altid gratis", ...) in a violence
or residence answer that no person has confirmed with `promises_checked`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from knowledge import gaps
from knowledge.schema import LANGUAGES, PLACEHOLDER, TRANSLATED_LANGUAGES, Entry
from knowledge.store import KnowledgeBase, _line_of

MIN_QUESTIONS = 4

# How each language writes 1,675.5: (thousands separator, decimal mark). Digits are always Latin
# in the texts; knowledge/README.md "Numbers" is the editor's version of this table.
NUMBER_STYLES = {"en": (",", "."), "da": (".", ","), "tr": (".", ","), "uk": (" ", ",")}
DEFAULT_STYLE = (",", ".")  # ar, so, fa, prs, ur, ti: as English

# a run of digit groups joined by one separator each: "1.675", "17:30", "24.3.2020", "308 000"
_CLUSTER = re.compile(r"\d+(?:[.,:/ ]\d+)*")
_DATE = re.compile(r"(\d{1,2})([./])(\d{1,2})\2(\d{2,4})$")
_MONEY_BEFORE = re.compile(r"(?:\bDKK|\bkr\.?|\bkroner)\s*$", re.IGNORECASE)
_MONEY_AFTER = re.compile(r"^\s*(?:DKK\b|kr\b|kroner\b|,-)", re.IGNORECASE)
# Arabic-script separators read as their Latin equivalents (the texts should not need them)
_SEPARATORS = str.maketrans({"\u066c": ",", "\u066b": ".", "\u060c": ", "})


def number_style(lang: str) -> tuple[str, str]:
    return NUMBER_STYLES.get(lang, DEFAULT_STYLE)


def _value(integer: str, fraction: str = "") -> str:
    fraction = fraction.rstrip("0")
    return f"{int(integer)}.{fraction}" if fraction else str(int(integer))


def _normalise(text: str) -> str:
    text = PLACEHOLDER.sub(" ", text)
    text = "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in text)
    return " ".join(text.translate(_SEPARATORS).split())


def read_numbers(text: str, lang: str = "en") -> tuple[Counter, list[str]]:
    """The numbers in a text by value, read in the language's number style, and the numbers
    written in another language's style.

    "1.675" in Danish and "1,675" in English are both 1675; "2,5" in Danish is 2.5. Times
    ("9.00", "17:30") are read as times in every language, dates ("24.3.2020") and ranges
    ("9-11") as their parts, "§109" as 109. Placeholders are removed first: they are checked
    separately. Any script's digits are read as 0-9."""
    thousands, decimal = number_style(lang)
    foreign = [sep for sep in ".," if sep != thousands]
    text = _normalise(text)
    values: Counter = Counter()
    problems: list[str] = []
    for m in _CLUSTER.finditer(text):
        raw = m.group(0)
        date_m = _DATE.match(raw)
        if date_m:
            values.update(_value(g) for g in (date_m.group(1), date_m.group(3), date_m.group(4)))
            continue
        money = bool(_MONEY_BEFORE.search(text[: m.start()]) or _MONEY_AFTER.match(text[m.end() :]))
        parts = re.split(r"([.,:/ ])", raw)
        groups, seps = parts[0::2], parts[1::2] + [""]
        i = 0
        while i < len(groups):
            g, sep = groups[i], seps[i]
            nxt = groups[i + 1] if i + 1 < len(groups) else ""
            if (
                len(g) <= 3
                and g[0] != "0"
                and len(nxt) == 3
                and (sep == thousands or sep in foreign)
            ):
                # thousands groups: own style, or another language's style (flagged)
                j, digits = i, g
                while j + 1 < len(groups) and seps[j] == sep and len(groups[j + 1]) == 3:
                    j += 1
                    digits += groups[j]
                fraction = ""
                if sep == thousands and seps[j] == decimal and j + 1 < len(groups):
                    j += 1
                    fraction = groups[j]
                if sep != thousands:
                    written = sep.join(groups[i : j + 1])
                    suggest = thousands.join(groups[i : j + 1])
                    problems.append(
                        f"{written!r} is ambiguous in {lang}, which writes thousands "
                        f"as {suggest!r} and decimals with {decimal!r}"
                    )
                values[_value(digits, fraction)] += 1
                i = j + 1
                continue
            if (
                sep in ":."
                and len(g) <= 2
                and int(g) <= 24
                and len(nxt) == 2
                and int(nxt) <= 59
                and not (sep == decimal and money)
            ):
                values[f"{int(g)}:{nxt}"] += 1  # a time of day, in any language
                i += 2
                continue
            if sep == decimal and nxt:
                values[_value(g, nxt)] += 1
                i += 2
                continue
            values[_value(g)] += 1
            i += 1
    return values, problems


def numbers(text: str, lang: str = "en") -> Counter:
    """The numbers in a text by value, read in the language's number style (see read_numbers)."""
    return read_numbers(text, lang)[0]


def placeholders(text: str) -> Counter:
    return Counter(m.group(0) for m in PLACEHOLDER.finditer(text))


# --- facts the fact sheet marks CHANGES OFTEN: they need a review date ------------------------
_AMOUNT = re.compile(
    r"(?:\bDKK|\bkr\.?)\s*\d(?:[\d.,]*\d)?|\d(?:[\d.,]*\d)?\s*(?:DKK\b|kr\b|kroner\b)",
    re.IGNORECASE,
)
_FEE = re.compile(
    r"\b(?:fees?|deposit|gebyr\w*|depositum|egenbetaling|brugerbetaling)\b", re.IGNORECASE
)
_DAYS = (
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekdays|weekends|mandag|"
    "tirsdag|onsdag|torsdag|fredag|lørdag|søndag|hverdage|weekender"
)
_HOURS = re.compile(
    rf"\b(?:{_DAYS})s?\b[^.;]{{0,30}}?\b\d{{1,2}}(?:[:.]\d{{2}})?\s*[–-]\s*\d{{1,2}}(?:[:.]\d{{2}})?"
    rf"|(?<![\d.,])\d{{1,2}}[:.][0-5]\d(?![\d.,]\d)|\bkl\.\s*\d"
    rf"|\bopen\s+(?:\w+\s+)?\d+\s+hours|\bdøgnet\s+rundt|\b24\s+timer",
    re.IGNORECASE,
)


def changes_often(entry: Entry) -> str | None:
    """Why an entry needs `review_by`, or None: a mechanical reading of the fact sheet's
    CHANGES OFTEN flag (amounts, fees, opening hours, or a source marked "[CHANGES OFTEN]")."""
    for s in entry.sources:
        if "CHANGES OFTEN" in s.supports:
            return f"a source marked CHANGES OFTEN ({str(s.url)[:60]})"
    for lang in ("en", "da"):
        text = " ".join((entry.title[lang] + " . " + entry.answer[lang]).split())
        for what, pattern in (("an amount", _AMOUNT), ("a fee", _FEE), ("opening hours", _HOURS)):
            m = pattern.search(PLACEHOLDER.sub("", text))
            if m:
                return f"{what} ({lang}: {m.group(0).strip()!r})"
    return None


# --- promises: a person confirms them ----------------------------------------------------------
PROMISE_TOPICS = ("violence", "residence")
# phrases, lower case; "..." stands for up to 40 characters of the same sentence
PROMISES = {
    "en": (
        "must offer",
        "require ... to offer",
        "will get a place",
        "always free",
        "guarantee",
        "will find you a place",
        "find a place",
        "find you a place",
        "always get",
    ),
    "da": (
        "skal tilbyde",
        "forpligt ... tilbyde",
        "får altid",
        "altid gratis",
        "garanter",
        "garanti",
        "finde en plads",
        "finder en plads",
        "får en plads",
    ),
}


def _phrase(words: str) -> re.Pattern:
    parts = [re.escape(p.strip()) for p in words.split("...")]
    return re.compile(r"\b" + r"\w*[^.;:]{0,40}?\b".join(parts), re.IGNORECASE)


_PROMISE_PATTERNS = {lang: [(w, _phrase(w)) for w in ws] for lang, ws in PROMISES.items()}


def promises(entry: Entry) -> list[str]:
    """Promise words in a violence or residence answer (source languages), for a person to
    confirm; empty when the entry carries `promises_checked`."""
    if entry.topic not in PROMISE_TOPICS or entry.promises_checked:
        return []
    found = []
    for lang, patterns in _PROMISE_PATTERNS.items():
        text = " ".join(entry.answer[lang].split())
        found += [f"{lang}: {m.group(0)!r}" for _, p in patterns if (m := p.search(text))]
    return found


@dataclass(frozen=True)
class Problem:
    """One error, where an editor fixes it: an entry and a field ("answer.en",
    "translations.ar.text"), for the workspace to show next to that field."""

    entry_id: str
    loc: str
    message: str


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # the errors of entries, located
    warnings: list[str] = field(default_factory=list)
    stale: dict[str, list[str]] = field(default_factory=dict)  # language -> entry ids
    missing: dict[str, list[str]] = field(default_factory=dict)  # language -> entry ids
    overdue: list[str] = field(default_factory=list)


def _where(kb: KnowledgeBase, entry: Entry, *loc) -> str:
    path = kb.paths.get(entry.id)
    if path is None:  # published from the workspace: the entry and the field
        return f"{entry.id}: {'.'.join(map(str, loc))}" if loc else entry.id
    line = _line_of(path, loc)
    return f"{path}:{line}" if line else str(path)


def _error(report: Report, kb: KnowledgeBase, entry: Entry, loc: tuple, message: str) -> None:
    report.errors.append(f"{_where(kb, entry, *loc)}: {message}")
    report.problems.append(Problem(entry.id, ".".join(map(str, loc)), message))


_PHONE_RUN = re.compile(r"(?<![\d.,])(?:\+45 ?)?\d{2}(?: ?\d{2}){3}(?![\d])")


def check(kb: KnowledgeBase, today: date | None = None) -> Report:
    today = today or date.today()
    report = Report()
    phones = {s.phone.replace(" ", ""): sid for sid, s in kb.services.items() if s.phone}
    for entry in kb.entries.values():
        for sid in entry.services:
            if sid not in kb.services:
                _error(report, kb, entry, ("services",), f"unknown service {sid!r}")

        texts = {"en": entry.answer["en"], "da": entry.answer["da"]}
        texts.update({lang: t.text for lang, t in entry.translations.items()})
        titles = {"en": entry.title["en"], "da": entry.title["da"]}
        titles.update({lang: t.title for lang, t in entry.translations.items()})
        ref_numbers, ref_places = numbers(texts["en"], "en"), placeholders(texts["en"])
        # a stale translation is not served (the bot falls back): its text and title are
        # compared with the English again once an editor has brought it up to date
        unserved = set()
        if not kb.policy.serve_stale:
            unserved = {
                lang for lang in entry.translations if entry.translation_state(lang) == "stale"
            }
        ref_title = numbers(titles["en"], "en")
        for lang, text in texts.items():
            loc = ("answer", lang) if lang in ("en", "da") else ("translations", lang, "text")
            for m in PLACEHOLDER.finditer(text):
                if m.group(1) not in entry.services:
                    _error(
                        report,
                        kb,
                        entry,
                        loc,
                        f"placeholder {m.group(0)} names a service not listed in `services`",
                    )
            found, problems = read_numbers(text, lang)
            for problem in problems:
                _error(report, kb, entry, loc, problem)
            if lang != "en" and found != ref_numbers and lang not in unserved:
                _error(
                    report,
                    kb,
                    entry,
                    loc,
                    f"numbers differ from the English text ({lang}: "
                    f"{sorted(found.elements())}, en: {sorted(ref_numbers.elements())})",
                )
            if lang != "en" and set(placeholders(text)) != set(ref_places) and lang not in unserved:
                _error(report, kb, entry, loc, "placeholders differ from the English text")
            runs = {
                m.group(0).replace(" ", "").removeprefix("+45")
                for m in _PHONE_RUN.finditer(_normalise(text))
            }
            for num in sorted(set(found) | runs):
                if num in phones and len(num) >= 4:
                    _error(
                        report,
                        kb,
                        entry,
                        loc,
                        f"write the phone number {num} as {{{phones[num]}.phone}}",
                    )
        for lang, title in titles.items():
            loc = ("title", lang) if lang in ("en", "da") else ("translations", lang, "title")
            found, problems = read_numbers(title, lang)
            for problem in problems:
                _error(report, kb, entry, loc, problem)
            if lang != "en" and found != ref_title and lang not in unserved:
                _error(
                    report,
                    kb,
                    entry,
                    loc,
                    f"numbers in the {lang} title differ from the English title",
                )
            if len(title) > 40:
                report.warnings.append(
                    f"{_where(kb, entry, 'title')}: {lang} title is "
                    f"{len(title)} characters; buttons show about 24"
                )

        reason = changes_often(entry)
        if reason and entry.review_by is None:
            _error(
                report,
                kb,
                entry,
                ("last_reviewed",),
                f"states {reason}, which "
                f"the fact sheet marks CHANGES OFTEN: add `review_by` "
                f"(6 months after last_reviewed)",
            )
        found_promises = promises(entry)
        if found_promises:
            report.warnings.append(
                f"{_where(kb, entry, 'answer')}: {entry.id} promises something "
                f"({', '.join(found_promises)}): a person checks the condition against the fact "
                f"sheet, then records `promises_checked: <who, date>`"
            )

        for lang in TRANSLATED_LANGUAGES:
            state = entry.translation_state(lang)
            if state == "missing":
                report.missing.setdefault(lang, []).append(entry.id)
            elif state == "stale":
                report.stale.setdefault(lang, []).append(entry.id)
            elif entry.translations[lang].source_hash is None:
                report.warnings.append(
                    f"{_where(kb, entry, 'translations', lang)}: not stamped "
                    f"(run `python -m knowledge stamp`)"
                )
        for lang in LANGUAGES:
            if len(entry.questions.get(lang, [])) < MIN_QUESTIONS:
                report.warnings.append(
                    f"{_where(kb, entry, 'questions')}: fewer than "
                    f"{MIN_QUESTIONS} example questions in {lang}"
                )
        if entry.review_by and entry.review_by < today:
            report.overdue.append(entry.id)
    for lang, ids in sorted(report.missing.items()):
        report.warnings.append(
            f"{lang}: {len(ids)} entries without a translation: {', '.join(ids)}"
        )
    for lang, ids in sorted(report.stale.items()):
        report.warnings.append(f"{lang}: {len(ids)} stale translations: {', '.join(ids)}")
    if report.overdue:
        report.warnings.append(f"past their review date: {', '.join(report.overdue)}")
    _check_gaps(kb, report)
    return report


def _check_gaps(kb: KnowledgeBase, report: Report) -> None:
    """knowledge/gaps.yml: loads, covers the first languages, and asks nothing an entry
    answers (an entry's own example question listed as a gap would never be answered)."""
    try:
        rows = gaps.load()
    except Exception as exc:  # a YAML or shape error: say where, do not crash the validator
        report.errors.append(f"{gaps.GAPS.name}: {exc}")
        return
    asked = {
        (lang, q.casefold().strip()): entry.id
        for entry in kb.entries.values()
        for lang, questions in entry.questions.items()
        for q in questions
    }
    have: dict[str, set[str]] = {}
    for gap_id, lang, question in rows:
        have.setdefault(gap_id, set()).add(lang)
        if (entry_id := asked.get((lang, question.casefold().strip()))) is not None:
            message = (
                f"{gaps.GAPS.name}: {gap_id}: {question!r} is an example question of {entry_id}"
            )
            report.errors.append(message)
            report.problems.append(Problem(entry_id, f"questions.{lang}", message))
    for gap_id, langs in sorted(have.items()):
        if missing := [lang for lang in LANGUAGES if lang not in langs and lang != "prs"]:
            report.warnings.append(f"{gaps.GAPS.name}: {gap_id}: no questions in {missing}")
