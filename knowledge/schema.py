"""The schema of knowledge entries and services (see knowledge/README.md for the editor's view).

Pure data: pydantic models and the hash that marks a translation stale. Loading files and
checking cross-references lives in knowledge/store.py and knowledge/validate.py.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from common.vocab import LANGUAGES, SOURCE_LANGUAGES, TRANSLATED_LANGUAGES  # noqa: F401

TOPICS = (
    "violence",
    "emergency",
    "health",
    "pregnancy",
    "residence",
    "citizenship",
    "danish",
    "rights",
    "everyday",
    "organisations",
)
REGIONS = ("all", "capital", "zealand", "central", "southern", "north")

PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\.(phone|web|address|name)\}")
ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


def source_hash(text: str) -> str:
    """Hash of a source text, whitespace-insensitive, stored in each translation."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:16]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Service(Strict):
    name: str
    phone: str | None = None
    web: HttpUrl | None = None
    address: str | None = None
    source: HttpUrl
    last_reviewed: date


class Source(Strict):
    url: HttpUrl
    supports: str = Field(min_length=5)


class Translation(Strict):
    status: Literal["machine", "reviewed"]
    reviewed_by: str | None = None
    reviewed_on: date | None = None  # set when an editor marks it reviewed in the workspace
    source_hash: str | None = None
    title: str = Field(min_length=1)
    text: str = Field(min_length=1)

    @field_validator("reviewed_by")
    @classmethod
    def _reviewer_named(cls, v: str | None, info) -> str | None:
        if info.data.get("status") == "reviewed" and not v:
            raise ValueError("a reviewed translation names its reviewer")
        return v


class Entry(Strict):
    id: str = Field(pattern=ID_PATTERN)
    topic: Literal[TOPICS]  # type: ignore[valid-type]
    owner: str
    last_reviewed: date
    review_by: date | None = None
    # a person confirmed the promises in the answer ("must offer", ...): "<who, date>"
    promises_checked: str | None = Field(default=None, min_length=5)
    region: Literal[REGIONS] = "all"  # type: ignore[valid-type]
    services: list[str] = []
    sources: list[Source] = Field(min_length=1)
    title: dict[Literal[SOURCE_LANGUAGES], str]  # type: ignore[valid-type]
    answer: dict[Literal[SOURCE_LANGUAGES], str]  # type: ignore[valid-type]
    translations: dict[Literal[TRANSLATED_LANGUAGES], Translation] = {}  # type: ignore[valid-type]
    questions: dict[Literal[LANGUAGES], list[str]]  # type: ignore[valid-type]

    @field_validator("title", "answer")
    @classmethod
    def _both_sources(cls, v: dict[str, str]) -> dict[str, str]:
        missing = [lang for lang in SOURCE_LANGUAGES if not (v.get(lang) or "").strip()]
        if missing:
            raise ValueError(f"missing source language(s): {', '.join(missing)}")
        return v

    def translation_state(self, lang: str) -> str:
        """'source', 'reviewed', 'machine', 'stale' or 'missing' for one language."""
        if lang in SOURCE_LANGUAGES:
            return "source"
        t = self.translations.get(lang)
        if t is None:
            return "missing"
        if t.source_hash and t.source_hash != source_hash(self.answer["en"]):
            return "stale"
        return t.status
