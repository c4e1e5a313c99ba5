"""Published content: the knowledge base in the database, as editors change it.

The repository's YAML (knowledge/entries, knowledge/services) seeds a fresh database: every
entry and service becomes version 1, author "repository" (`sync`, at each gateway start,
which later also brings in YAML changed in the repository). The database holds what the bot
serves, and editors change it in the workspace (bot/workspace/content.py) or through the
JSON API:

- `content_versions`: every published version of every entry and service, its data as JSON
  (the same fields as its YAML), who published it, when and why. The newest version of each
  is served. The table's largest id is the content's *revision*: the action server watches
  it (actions/knowledge_state.py) and swaps in a new index when it moves, without a restart.
- `content_drafts`: at most one unpublished change per entry or service, with the version it
  was based on, so a draft cannot silently overwrite a colleague's newer publish.

Publishing checks the whole knowledge base with the change in it (knowledge/validate.py) and
refuses the change when the entry, or an entry that uses the changed service, has an error:
a number that differs between languages, a missing source, a broken placeholder.

Translations follow the English source text (knowledge/schema.py `source_hash`). When an
editor changes the English answer she says whether the facts changed or only the wording:
wording only keeps every translation that was current valid (stamped with the new text's
hash); facts changed leaves them stale, and the bot falls back to a source language for
them. A translation edited or marked reviewed in the same change is stamped current: it was
written against the text now published.

`export_yaml` writes the published content back into the YAML files (an organisation may
review changes as pull requests) and `import_yaml` publishes what the files hold that the
database does not.

The tables are defined here with SQLAlchemy Core, as the action server, which knows nothing
of the gateway's models, reads them too; migrations/versions/..._0011 creates them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import yaml
from pydantic import ValidationError
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    inspect,
    select,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from common.clock import utcnow
from knowledge.schema import Entry, Service, source_hash
from knowledge.store import ROOT, KnowledgeBase, Policy
from knowledge.validate import Problem, check

KINDS = ("entry", "service")
REPOSITORY = "repository"  # the author of what was seeded or imported from the YAML

metadata = MetaData()
versions = Table(
    "content_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("key", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("author", String(128), nullable=False),
    Column("note", String(300), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
drafts = Table(
    "content_drafts",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("base_version", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("author", String(128), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class Invalid(Exception):
    """A draft or publish refused, with the reasons next to the fields they concern."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(f"{p.loc}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Version:
    version: int
    author: str
    note: str
    created_at: datetime
    data: dict


@dataclass(frozen=True)
class Draft:
    base_version: int
    author: str
    updated_at: datetime
    data: dict


# -- data <-> models --------------------------------------------------------------------------
def dump(item: Entry | Service) -> dict:
    """The JSON form of an entry or service: the fields of its YAML."""
    return item.model_dump(mode="json")


def parse(kind: str, key: str, data: dict) -> Entry | Service:
    """The model for `data`, or Invalid with pydantic's reasons located by field."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    try:
        if kind == "entry":
            entry = Entry.model_validate(data)
            if entry.id != key:
                raise Invalid([Problem(key, "id", f"the id must stay {key!r}")])
            return entry
        return Service.model_validate(data)
    except ValidationError as exc:
        raise Invalid(
            [
                Problem(key, ".".join(map(str, err["loc"])) or "(entry)", err["msg"])
                for err in exc.errors()
            ]
        ) from None


# -- reading ------------------------------------------------------------------------------------
def revision(engine: Engine) -> int:
    """The content's revision: grows with every publish; 0 before the database is seeded
    (or before the gateway has created the tables)."""
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.max(versions.c.id))) or 0)
    except (OperationalError, ProgrammingError):  # no table yet: migrations not run
        return 0


def _latest(conn, kind: str | None = None) -> dict[tuple[str, str], tuple[int, dict]]:
    newest = (
        select(versions.c.kind, versions.c.key, func.max(versions.c.version).label("v"))
        .group_by(versions.c.kind, versions.c.key)
        .subquery()
    )
    query = select(versions.c.kind, versions.c.key, versions.c.version, versions.c.data).join(
        newest,
        and_(
            versions.c.kind == newest.c.kind,
            versions.c.key == newest.c.key,
            versions.c.version == newest.c.v,
        ),
    )
    if kind:
        query = query.where(versions.c.kind == kind)
    return {(r.kind, r.key): (r.version, json.loads(r.data)) for r in conn.execute(query)}


def _knowledge_base(latest: dict[tuple[str, str], tuple[int, dict]], policy: Policy):
    entries = {
        k: Entry.model_validate(d) for (kind, k), (_, d) in latest.items() if kind == "entry"
    }
    services = {
        k: Service.model_validate(d) for (kind, k), (_, d) in latest.items() if kind == "service"
    }
    return KnowledgeBase(entries=entries, services=services, policy=policy)


def published(engine: Engine, policy: Policy = Policy()) -> KnowledgeBase | None:
    """What the bot serves; None before the database is seeded."""
    try:
        with engine.connect() as conn:
            latest = _latest(conn)
    except (OperationalError, ProgrammingError):
        return None
    return _knowledge_base(latest, policy) if latest else None


def current(engine: Engine, kind: str, key: str) -> tuple[int, dict] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(versions.c.version, versions.c.data)
            .where(versions.c.kind == kind, versions.c.key == key)
            .order_by(versions.c.version.desc())
            .limit(1)
        ).first()
    return (row.version, json.loads(row.data)) if row else None


def history(engine: Engine, kind: str, key: str) -> list[Version]:
    """Every published version, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(versions)
            .where(versions.c.kind == kind, versions.c.key == key)
            .order_by(versions.c.version.desc())
        )
        return [
            Version(r.version, r.author, r.note, r.created_at, json.loads(r.data)) for r in rows
        ]


def draft(engine: Engine, kind: str, key: str) -> Draft | None:
    with engine.connect() as conn:
        row = conn.execute(select(drafts).where(drafts.c.kind == kind, drafts.c.key == key)).first()
    return (
        Draft(row.base_version, row.author, row.updated_at, json.loads(row.data)) if row else None
    )


def drafts_of(engine: Engine) -> dict[tuple[str, str], Draft]:
    with engine.connect() as conn:
        return {
            (r.kind, r.key): Draft(r.base_version, r.author, r.updated_at, json.loads(r.data))
            for r in conn.execute(select(drafts))
        }


def source_text_of(engine: Engine, entry_id: str, hash_: str | None) -> str | None:
    """The English answer a translation was written against (its `source_hash`), from the
    versions kept: what the editor compares with today's text to update a stale one."""
    if not hash_:
        return None
    for v in history(engine, "entry", entry_id):
        text = v.data.get("answer", {}).get("en", "")
        if source_hash(text) == hash_:
            return text
    return None


# -- seeding, drafts, publishing -----------------------------------------------------------------
def _insert(conn, kind: str, key: str, version: int, data: dict, author: str, note: str) -> None:
    conn.execute(
        versions.insert().values(
            kind=kind,
            key=key,
            version=version,
            data=json.dumps(data, ensure_ascii=False),
            author=author,
            note=note[:300],
            created_at=utcnow(),
        )
    )


def sync(engine: Engine, kb: KnowledgeBase, checked: bool = False) -> list[str]:
    """Brings the repository's YAML into the database, at every gateway start: a fresh
    database is seeded with all of it; later, an item whose YAML changed since it was last
    taken from the repository (a pull request merged, `git pull`) is published as a new
    version. An item editors changed in the workspace while its YAML stayed the same is left
    as they published it. The items written ("entry violence-danner", ...). YAML with
    validator errors is refused (Invalid) and nothing is written."""
    if not inspect(engine).has_table("content_versions"):
        return []
    errors = [] if checked else check(kb).problems
    if errors:
        raise Invalid(errors)
    with engine.connect() as conn:
        latest = _latest(conn)
        from_repo = {
            (r.kind, r.key): json.loads(r.data)
            for r in conn.execute(
                select(versions.c.kind, versions.c.key, versions.c.data)
                .where(versions.c.author == REPOSITORY)
                .order_by(versions.c.version)
            )
        }  # the newest taken from the repository, per item (later rows overwrite)
    done = []
    try:
        with engine.begin() as conn:
            for kind, items in (("service", kb.services), ("entry", kb.entries)):
                for key, item in sorted(items.items()):
                    data = dump(item)
                    served = latest.get((kind, key))
                    if served is not None and (
                        served[1] == data or from_repo.get((kind, key)) == data
                    ):
                        continue
                    version = served[0] + 1 if served else 1
                    _insert(conn, kind, key, version, data, REPOSITORY, "from the repository")
                    done.append(f"{kind} {key}")
    except IntegrityError:  # another gateway starting at the same moment wrote them
        return []
    return done


def save_draft(engine: Engine, kind: str, key: str, data: dict, author: str) -> Draft:
    """Keeps an unpublished change. Refused (Invalid) only when it does not fit the schema;
    the validator's checks run at publish."""
    parse(kind, key, data)
    now = current(engine, kind, key)
    base = now[0] if now else 0
    existing = draft(engine, kind, key)
    with engine.begin() as conn:
        if existing is not None:
            conn.execute(delete(drafts).where(drafts.c.kind == kind, drafts.c.key == key))
            base = existing.base_version  # the version the editor began from
        conn.execute(
            drafts.insert().values(
                kind=kind,
                key=key,
                base_version=base,
                data=json.dumps(data, ensure_ascii=False),
                author=author,
                updated_at=utcnow(),
            )
        )
    return Draft(base, author, utcnow(), data)


def discard_draft(engine: Engine, kind: str, key: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(drafts).where(drafts.c.kind == kind, drafts.c.key == key))


def restamp(old: Entry | None, new: Entry, facts_changed: bool | None) -> Entry:
    """The translations' source hashes after `new` replaces `old` (see the module doc)."""
    new_hash = source_hash(new.answer["en"])
    old_hash = source_hash(old.answer["en"]) if old else None
    translations = {}
    for lang, t in new.translations.items():
        before = old.translations.get(lang) if old else None
        edited = before is None or (t.title, t.text, t.status, t.reviewed_by, t.reviewed_on) != (
            before.title,
            before.text,
            before.status,
            before.reviewed_by,
            before.reviewed_on,
        )
        was_current = before is not None and before.source_hash in (old_hash, None)
        if edited or (facts_changed is False and was_current):
            t = t.model_copy(update={"source_hash": new_hash})
        translations[lang] = t
    return new.model_copy(update={"translations": translations})


def _touched(kb: KnowledgeBase, kind: str, key: str) -> set[str]:
    """The entries whose answers a change of this item can break."""
    if kind == "entry":
        return {key}
    return {eid for eid, e in kb.entries.items() if key in e.services}


def _check(kb: KnowledgeBase, kind: str, key: str) -> list[Problem]:
    touched = _touched(kb, kind, key)
    return [p for p in check(kb).problems if p.entry_id in touched]


def replaced(kb: KnowledgeBase, kind: str, key: str, item: Entry | Service) -> KnowledgeBase:
    entries, services = dict(kb.entries), dict(kb.services)
    if kind == "entry":
        assert isinstance(item, Entry)
        entries[key] = item
    else:
        assert isinstance(item, Service)
        services[key] = item
    return KnowledgeBase(entries=entries, services=services, policy=kb.policy)


def _serving(engine: Engine) -> tuple[KnowledgeBase, dict[tuple[str, str], tuple[int, dict]]]:
    with engine.connect() as conn:
        latest = _latest(conn)
    return _knowledge_base(latest, Policy()), latest


def preview(engine: Engine, kind: str, key: str, data: dict) -> list[Problem]:
    """What publishing `data` would refuse, without publishing (for the edit page)."""
    kb, latest = _serving(engine)
    item = parse(kind, key, data)
    return _check(replaced(kb, kind, key, item), kind, key)


def old_number_problems(
    kb: KnowledgeBase, key: str, old: Service | None, new: Service
) -> list[Problem]:
    """Where an entry that lists the service still writes out its old phone number (a
    button title, an answer in any language): the number changes everywhere the placeholder
    is used, but not where it was written out. The editor fixes these in the same publish."""
    if old is None or not old.phone or old.phone == new.phone:
        return []
    digits = old.phone.replace(" ", "")
    written = re.compile(r"(?<!\d)" + r"\s?".join(map(re.escape, digits)) + r"(?!\d)")
    found = []
    for eid in entries_by_service(kb, key):
        entry = kb.entries[eid]
        fields = [(f"title.{lang}", text) for lang, text in entry.title.items()]
        fields += [(f"answer.{lang}", text) for lang, text in entry.answer.items()]
        for lang, t in entry.translations.items():
            fields += [
                (f"translations.{lang}.title", t.title),
                (f"translations.{lang}.text", t.text),
            ]
        found += [
            Problem(
                eid,
                loc,
                f"still writes the old number {old.phone}: {new.name}'s number is now {new.phone}",
            )
            for loc, text in fields
            if written.search(text)
        ]
    return found


def publish(
    engine: Engine, kind: str, key: str, author: str, facts_changed: bool | None = None
) -> int:
    """Publishes the draft of an item: its new version's number. A service is published
    together with the drafts of the entries that list it (where an editor fixed what the
    service's change touches). Invalid when the draft is missing, based on an older version
    than the one now served, breaks the validator's checks, or changes the English answer
    without saying whether the facts changed."""
    kb, latest = _serving(engine)
    pending = draft(engine, kind, key)
    if pending is None:
        raise Invalid([Problem(key, "(draft)", "there is no draft to publish")])
    items: list[tuple[str, str, Entry | Service, str]] = []
    candidate = kb
    bundle = [(kind, key, pending)]
    if kind == "service":
        bundle += [
            ("entry", eid, d)
            for eid in entries_by_service(kb, key)
            if (d := draft(engine, "entry", eid)) is not None
        ]
    for item_kind, item_key, item_draft in bundle:
        item, note = _prepared(latest, item_kind, item_key, item_draft, facts_changed)
        items.append((item_kind, item_key, item, note))
        candidate = replaced(candidate, item_kind, item_key, item)
    problems = _check(candidate, kind, key)
    if kind == "service":
        new = items[0][2]
        assert isinstance(new, Service)
        problems += old_number_problems(candidate, key, kb.services.get(key), new)
    problems += [p for _, k, _, _ in items[1:] for p in _check(candidate, "entry", k)]
    if problems:
        raise Invalid(list(dict.fromkeys(problems)))
    try:
        with engine.begin() as conn:
            for item_kind, item_key, item, note in items:
                served = latest.get((item_kind, item_key))
                version = (served[0] if served else 0) + 1
                _insert(conn, item_kind, item_key, version, dump(item), author, note)
                conn.execute(
                    delete(drafts).where(drafts.c.kind == item_kind, drafts.c.key == item_key)
                )
    except IntegrityError:  # a colleague published the same version a moment earlier
        raise Invalid(
            [Problem(key, "(draft)", "a colleague published this item a moment ago: reload")]
        ) from None
    return (latest[(kind, key)][0] if (kind, key) in latest else 0) + 1


def _prepared(latest, kind: str, key: str, pending: Draft, facts_changed: bool | None):
    """A draft as it would be published, and the note for its version."""
    served = latest.get((kind, key))
    if served is not None and served[0] != pending.base_version:
        raise Invalid(
            [
                Problem(
                    key,
                    "(draft)",
                    f"version {served[0]} was published after this draft was begun from "
                    f"version {pending.base_version}: discard the draft and redo the change",
                )
            ]
        )
    item = parse(kind, key, pending.data)
    if served is None:
        return item, "new"
    if not isinstance(item, Entry):
        return item, "edited"
    old = Entry.model_validate(served[1])
    if source_hash(old.answer["en"]) == source_hash(item.answer["en"]):
        return restamp(old, item, facts_changed), "edited"
    if facts_changed is None:
        raise Invalid(
            [
                Problem(
                    key,
                    "facts_changed",
                    "the English answer changed: say whether the facts changed "
                    "(translations are marked stale) or only the wording",
                )
            ]
        )
    note = "facts changed" if facts_changed else "wording only"
    return restamp(old, item, facts_changed), note


def restore(engine: Engine, kind: str, key: str, version: int, author: str) -> int:
    """Publishes an earlier version again, as it was (translations' stamps included), as a
    new version; checked like any publish. A draft in progress is kept; publishing it is
    then refused, as it was begun from an older version."""
    old = next((v for v in history(engine, kind, key) if v.version == version), None)
    if old is None:
        raise Invalid([Problem(key, "version", f"there is no version {version}")])
    kb, latest = _serving(engine)
    item = parse(kind, key, old.data)
    candidate = replaced(kb, kind, key, item)
    problems = _check(candidate, kind, key)
    if isinstance(item, Service):
        problems += old_number_problems(candidate, key, kb.services.get(key), item)
    if problems:
        raise Invalid(problems)
    newest = latest[(kind, key)][0]
    with engine.begin() as conn:
        _insert(conn, kind, key, newest + 1, old.data, author, f"restored version {version}")
    return newest + 1


# -- the repository's YAML ----------------------------------------------------------------------
def _yaml_text(data: dict, header: str = "") -> str:
    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper, value: str):
        style = ">" if len(value) > 90 else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return header + yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)


def export_yaml(engine: Engine, root: Path = ROOT, repo: KnowledgeBase | None = None) -> list[Path]:
    """Writes each published entry or service that differs from the repository's YAML into
    its file; the files written. A services file that changes is written whole (its
    comments are lost: the sources they cite are in each service's `source`)."""
    from knowledge.store import load

    repo = repo or load(root)
    kb, _ = _serving(engine)
    written: list[Path] = []
    for eid, entry in sorted(kb.entries.items()):
        if eid in repo.entries and dump(repo.entries[eid]) == dump(entry):
            continue
        path = root / "entries" / entry.topic / f"{eid}.yml"
        old = repo.paths.get(eid)
        if old is not None and old != path and old.is_relative_to(root):  # the topic changed
            old.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_yaml_text(_plain(dump(entry))), encoding="utf-8")
        written.append(path)
    changed = {
        sid
        for sid, s in kb.services.items()
        if sid not in repo.services or dump(repo.services[sid]) != dump(s)
    }
    if changed:
        files = _service_files(root)
        for path in sorted({files.get(sid, root / "services" / "added.yml") for sid in changed}):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
            for sid in changed:
                if files.get(sid, root / "services" / "added.yml") == path:
                    data[sid] = _plain(dump(kb.services[sid]))
            path.write_text(_yaml_text(data), encoding="utf-8")
            written.append(path)
    return written


def _plain(data: dict) -> dict:
    """Without empty optional fields, as an editor writes the YAML."""
    out = {}
    for k, v in data.items():
        if v is None or v == [] or v == {}:
            continue
        out[k] = _plain(v) if isinstance(v, dict) else v
    return out


def _service_files(root: Path) -> dict[str, Path]:
    out = {}
    for path in sorted((root / "services").glob("*.yml")):
        for sid in yaml.safe_load(path.read_text(encoding="utf-8")) or {}:
            out[sid] = path
    return out


def import_yaml(engine: Engine, kb: KnowledgeBase, author: str = REPOSITORY) -> list[str]:
    """Publishes every entry and service whose YAML differs from what the database serves,
    as a new version; refused (Invalid) when the YAML has errors. The items published."""
    errors = check(kb).problems
    if errors:
        raise Invalid(errors)
    _, latest = _serving(engine)
    done = []
    with engine.begin() as conn:
        for kind, items in (("service", kb.services), ("entry", kb.entries)):
            for key, item in sorted(items.items()):
                served = latest.get((kind, key))
                data = dump(item)
                if served is not None and served[1] == data:
                    continue
                version = served[0] + 1 if served else 1
                _insert(conn, kind, key, version, data, author, "imported from the YAML files")
                done.append(f"{kind} {key}")
    return done


def warnings_for(kb: KnowledgeBase, entry_id: str, entry: Entry | None = None) -> list[str]:
    """The validator's warnings about one entry (as it is, or as `entry` would make it):
    promise words nobody has confirmed, long button titles, too few example questions.
    Publishing is not refused for them; the editor sees them."""
    if entry is not None:
        kb = replaced(kb, "entry", entry_id, entry)
    prefix = f"{entry_id}:"
    return [w.removeprefix(prefix).strip() for w in check(kb).warnings if w.startswith(prefix)]


def entries_by_service(kb: KnowledgeBase, service_id: str) -> list[str]:
    return sorted(eid for eid, e in kb.entries.items() if service_id in e.services)


def reviewed_today(t_data: dict, reviewer: str, today: date | None = None) -> dict:
    """A translation's data marked reviewed by `reviewer` today."""
    return {
        **t_data,
        "status": "reviewed",
        "reviewed_by": reviewer,
        "reviewed_on": (today or date.today()).isoformat(),
    }
