"""Checks that go beyond the schema: what an editor must fix before an answer can be trusted.

Errors (exit 1): schema errors, placeholders naming unknown or unlisted services, numbers that
differ between the English text and the Danish text or a translation, placeholders that differ
between languages, a service phone number written out instead of as a placeholder.
Warnings: missing, unstamped or stale translations, too few example questions, entries past
their review date.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from knowledge.schema import LANGUAGES, PLACEHOLDER, TRANSLATED_LANGUAGES, Entry
from knowledge.store import KnowledgeBase, _line_of

MIN_QUESTIONS = 4
# digits, with thousands groups ("5,545", "5.545", "5 545") read as one number
_NUMBER = re.compile(r"\d+(?:[.,\u00a0 ]\d{3}(?!\d))*")


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stale: dict[str, list[str]] = field(default_factory=dict)      # language -> entry ids
    missing: dict[str, list[str]] = field(default_factory=dict)    # language -> entry ids
    overdue: list[str] = field(default_factory=list)


def numbers(text: str) -> Counter:
    """The numbers in a text, separators ignored, any script's digits read as 0-9.
    Placeholders are removed first: they are checked separately."""
    text = PLACEHOLDER.sub(" ", text)
    text = "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in text)
    return Counter(re.sub(r"[.,\u00a0 ]", "", m.group(0)) for m in _NUMBER.finditer(text))


def placeholders(text: str) -> Counter:
    return Counter(m.group(0) for m in PLACEHOLDER.finditer(text))


def _where(kb: KnowledgeBase, entry: Entry, *loc) -> str:
    path = kb.paths.get(entry.id)
    line = _line_of(path, loc) if path else None
    return f"{path}:{line}" if line else str(path)


def check(kb: KnowledgeBase, today: date | None = None) -> Report:
    today = today or date.today()
    report = Report()
    phones = {s.phone.replace(" ", ""): sid for sid, s in kb.services.items() if s.phone}
    for entry in kb.entries.values():
        for sid in entry.services:
            if sid not in kb.services:
                report.errors.append(f"{_where(kb, entry, 'services')}: unknown service {sid!r}")

        texts = {"en": entry.answer["en"], "da": entry.answer["da"]}
        texts.update({lang: t.text for lang, t in entry.translations.items()})
        titles = {"en": entry.title["en"], "da": entry.title["da"]}
        titles.update({lang: t.title for lang, t in entry.translations.items()})
        ref_numbers, ref_places = numbers(texts["en"]), placeholders(texts["en"])
        for lang, text in texts.items():
            loc = ("answer", lang) if lang in ("en", "da") else ("translations", lang, "text")
            for m in PLACEHOLDER.finditer(text):
                if m.group(1) not in entry.services:
                    report.errors.append(f"{_where(kb, entry, *loc)}: placeholder {m.group(0)} "
                                         f"names a service not listed in `services`")
            if lang != "en" and numbers(text) != ref_numbers:
                report.errors.append(
                    f"{_where(kb, entry, *loc)}: numbers differ from the English text "
                    f"({lang}: {sorted(numbers(text).elements())}, "
                    f"en: {sorted(ref_numbers.elements())})")
            if lang != "en" and set(placeholders(text)) != set(ref_places):
                report.errors.append(f"{_where(kb, entry, *loc)}: placeholders differ from the "
                                     f"English text")
            for num in numbers(text):
                if num in phones and len(num) >= 4:
                    report.errors.append(f"{_where(kb, entry, *loc)}: write the phone number "
                                         f"{num} as {{{phones[num]}.phone}}")
        for lang, title in titles.items():
            if len(title) > 40:
                report.warnings.append(f"{_where(kb, entry, 'title')}: {lang} title is "
                                       f"{len(title)} characters; buttons show about 24")

        for lang in TRANSLATED_LANGUAGES:
            state = entry.translation_state(lang)
            if state == "missing":
                report.missing.setdefault(lang, []).append(entry.id)
            elif state == "stale":
                report.stale.setdefault(lang, []).append(entry.id)
            elif entry.translations[lang].source_hash is None:
                report.warnings.append(f"{_where(kb, entry, 'translations', lang)}: not stamped "
                                       f"(run `python -m knowledge stamp`)")
        for lang in LANGUAGES:
            if len(entry.questions.get(lang, [])) < MIN_QUESTIONS:
                report.warnings.append(f"{_where(kb, entry, 'questions')}: fewer than "
                                       f"{MIN_QUESTIONS} example questions in {lang}")
        if entry.review_by and entry.review_by < today:
            report.overdue.append(entry.id)
    for lang, ids in sorted(report.missing.items()):
        report.warnings.append(f"{lang}: {len(ids)} entries without a translation: {', '.join(ids)}")
    for lang, ids in sorted(report.stale.items()):
        report.warnings.append(f"{lang}: {len(ids)} stale translations: {', '.join(ids)}")
    if report.overdue:
        report.warnings.append(f"past their review date: {', '.join(report.overdue)}")
    return report
