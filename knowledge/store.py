"""Loads the knowledge base from YAML and renders an entry in a woman's language.

Rendering applies the translation policy (README: serve reviewed; serve machine translations
with a notice; otherwise fall back to a source language) and fills service placeholders, so a
phone number comes from one place in every language.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from knowledge.schema import PLACEHOLDER, Entry, Service

ROOT = Path(__file__).resolve().parent


class LoadError(Exception):
    """A file that is not valid YAML or does not match the schema; carries file and line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Policy:
    serve_machine: bool = True  # serve unchecked machine translations, with a notice
    serve_stale: bool = False  # serve translations whose source text changed since


@dataclass(frozen=True)
class Rendered:
    entry_id: str
    language: str  # the language the text is in
    title: str
    text: str
    state: str  # source | reviewed | machine | fallback
    sources: tuple[str, ...]
    last_reviewed: str


@dataclass
class KnowledgeBase:
    entries: dict[str, Entry]
    services: dict[str, Service]
    paths: dict[str, Path] = field(default_factory=dict)
    policy: Policy = Policy()

    def fingerprint(self) -> str:
        """Changes whenever any entry or service changes; stored with the index."""
        h = hashlib.sha256()
        for items in (self.entries, self.services):
            for key in sorted(items):  # keys sorted too: the same content however it was read
                h.update(json.dumps(items[key].model_dump(mode="json"), sort_keys=True).encode())
        return h.hexdigest()[:16]

    def fill(self, text: str) -> str:
        def sub(match):
            service = self.services[match.group(1)]
            value = getattr(service, match.group(2))
            return str(value).rstrip("/") if value is not None else match.group(0)

        return PLACEHOLDER.sub(sub, " ".join(text.split()))

    def render(self, entry_id: str, language: str, fallback: str = "en") -> Rendered:
        entry = self.entries[entry_id]
        state = entry.translation_state(language)
        servable = state in ("source", "reviewed") or (
            (state == "machine" and self.policy.serve_machine)
            or (state == "stale" and self.policy.serve_stale)
        )
        if state == "source":
            title, text = entry.title[language], entry.answer[language]
        elif servable:
            t = entry.translations[language]  # type: ignore[index]
            title, text, state = t.title, t.text, ("machine" if state == "stale" else state)
        else:
            language, state = fallback, "fallback"
            title, text = entry.title[fallback], entry.answer[fallback]  # type: ignore[index]
        return Rendered(
            entry_id=entry.id,
            language=language,
            title=title,
            text=self.fill(text),
            state=state,
            sources=tuple(str(s.url) for s in entry.sources),
            last_reviewed=entry.last_reviewed.isoformat(),
        )


def _line_of(path: Path, loc: tuple) -> int | None:
    """The line (1-based) of a key path in a YAML file, for error messages editors can follow."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(key)), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _read_yaml(path: Path, problems: list[str]):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problems.append(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}")
        return None


def _schema_problems(path: Path, exc: ValidationError, prefix: tuple = ()) -> list[str]:
    out = []
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        line = _line_of(path, loc)
        where = f"{path}:{line}" if line else str(path)
        out.append(f"{where}: {'.'.join(map(str, loc)) or '(file)'}: {err['msg']}")
    return out


def load(root: Path = ROOT, policy: Policy = Policy()) -> KnowledgeBase:
    problems: list[str] = []
    services: dict[str, Service] = {}
    for path in sorted((root / "services").glob("*.yml")):
        data = _read_yaml(path, problems) or {}
        for sid, raw in data.items():
            if sid in services:
                problems.append(f"{path}:{_line_of(path, (sid,))}: service {sid!r} defined twice")
                continue
            try:
                services[sid] = Service.model_validate(raw)
            except ValidationError as exc:
                problems.extend(_schema_problems(path, exc, (sid,)))

    entries: dict[str, Entry] = {}
    paths: dict[str, Path] = {}
    for path in sorted((root / "entries").glob("*/*.yml")):
        raw = _read_yaml(path, problems)
        if raw is None:
            continue
        try:
            entry = Entry.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_schema_problems(path, exc))
            continue
        if entry.id != path.stem or entry.topic != path.parent.name:
            problems.append(
                f"{path}:1: id/topic must match the file name and folder "
                f"({entry.topic}/{entry.id}.yml)"
            )
        if entry.id in entries:
            problems.append(f"{path}:1: id {entry.id!r} also used by {paths[entry.id]}")
        entries[entry.id] = entry
        paths[entry.id] = path
    if problems:
        raise LoadError(problems)
    return KnowledgeBase(entries=entries, services=services, paths=paths, policy=policy)
