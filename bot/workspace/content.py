"""Content editing for editors and admins: web pages under /workspace/content and the JSON
API under /api/v1/entries and /api/v1/services (editors' and admins' tokens), over the
published content in the database (knowledge/content.py, where drafts, publishing, the
translation stamps and the versions are explained).

An editor lists and searches the entries, edits one (source texts, titles, example
questions, sources, services, region, review dates) with its translations beside the
English, sees which are stale with the English they were written against as a diff, saves a
draft and publishes it. Publishing runs the validator's checks and shows each reason next
to its field; the action server picks a publish up within a fraction of a second
(actions/knowledge_state.py). Every version is listed with who published it, and can be
restored.

May touch: the `content_versions` and `content_drafts` tables (through knowledge/content.py),
`feedback` (read, for the helpful rate), the audit log.
"""

from __future__ import annotations

import copy
import difflib
import html
from datetime import date

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse
from markupsafe import Markup
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.referrals.hours import aware
from bot.referrals.models import User
from bot.storage.models import Feedback, UnansweredQuestion, utcnow
from bot.workspace import auth
from bot.workspace.cases import Refused
from bot.workspace.deps import Login, check_csrf, db_session, form, token_user, web_login
from bot.workspace.web import back, page
from knowledge import content
from knowledge.schema import (
    LANGUAGES,
    REGIONS,
    SOURCE_LANGUAGES,
    TOPICS,
    TRANSLATED_LANGUAGES,
    Entry,
    source_hash,
)
from knowledge.validate import Problem

EDITORS = ("editor", "admin")
router = APIRouter()
KINDS = {"entries": "entry", "services": "service"}
STATES = {
    "source": "source",
    "reviewed": "reviewed",
    "machine": "machine-translated, not reviewed",
    "stale": "STALE: the English changed since",
    "missing": "missing",
}


# -- shared ---------------------------------------------------------------------------------
def _published(request: Request):
    kb = content.published(request.app.state.engine)
    if kb is None:
        raise Refused(503, "The content has not been loaded into the database yet.")
    return kb


def _helpful(db: Session) -> dict[str, tuple[int, int]]:
    """Per entry: (helpful, all) answers to "Was this helpful?"."""
    rows = db.execute(
        select(Feedback.entry_id, Feedback.helpful, func.count()).group_by(
            Feedback.entry_id, Feedback.helpful
        )
    )
    out: dict[str, tuple[int, int]] = {}
    for entry_id, helpful, n in rows:
        yes, total = out.get(entry_id or "", (0, 0))
        out[entry_id or ""] = (yes + (n if helpful else 0), total + n)
    return out


def _by_loc(problems: list[Problem], entry_id: str | None = None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in problems:
        if entry_id is None or p.entry_id == entry_id:
            out.setdefault(p.loc, []).append(p.message)
    return out


def word_diff(old: str, new: str) -> Markup:
    """The English a translation was written against and today's, word by word: removed
    words in <del>, added ones in <ins>."""
    a, b = old.split(), new.split()
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            out.append(f"<del>{html.escape(' '.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{html.escape(' '.join(b[j1:j2]))}</ins>")
        if op == "equal":
            out.append(html.escape(" ".join(a[i1:i2])))
    return Markup(" ".join(out))


def _same_text(new: str, old: str | None) -> str:
    """The old text when only whitespace differs (a textarea's line breaks), so that a
    re-saved form never counts as an edit and never stamps a stale translation current."""
    if old is not None and " ".join(new.split()) == " ".join(old.split()):
        return old
    return new.strip()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def entry_from_form(base: dict, f: dict[str, str], reviewer: str) -> dict:
    """An entry's data with the edit form's fields laid over `base` (its draft or version)."""
    data = copy.deepcopy(base)
    for part in ("title", "answer"):
        for lang in SOURCE_LANGUAGES:
            if f"{part}.{lang}" in f:
                data[part][lang] = _same_text(f[f"{part}.{lang}"], data[part].get(lang))
    for name in ("owner", "region"):
        if name in f:
            data[name] = f[name].strip()
    for name in ("last_reviewed", "review_by", "promises_checked"):
        if name in f:
            data[name] = f[name].strip() or None
    if "services" in f:
        data["services"] = [
            s.strip() for s in f["services"].replace("\n", ",").split(",") if s.strip()
        ]
    if "sources" in f:
        sources = []
        for line in _lines(f["sources"]):
            url, _, supports = line.partition("|")
            sources.append({"url": url.strip(), "supports": supports.strip()})
        data["sources"] = sources
    for lang in LANGUAGES:
        if f"questions.{lang}" in f:
            data["questions"][lang] = _lines(f[f"questions.{lang}"])
    for lang in TRANSLATED_LANGUAGES:
        title, text = f.get(f"translations.{lang}.title"), f.get(f"translations.{lang}.text")
        if title is None or text is None:
            continue
        old = data["translations"].get(lang)
        if old is None and not (title.strip() or text.strip()):
            continue  # no translation, and none written
        t = dict(old or {"status": "machine", "reviewed_by": None, "source_hash": None})
        t["title"] = _same_text(title, t.get("title"))
        t["text"] = _same_text(text, t.get("text"))
        if f.get(f"translations.{lang}.reviewed") == "on":  # checked against today's English
            t = content.reviewed_today(t, reviewer)
            t["source_hash"] = source_hash(data["answer"]["en"])
        data["translations"][lang] = t
    return data


def service_from_form(base: dict, f: dict[str, str]) -> dict:
    data = copy.deepcopy(base)
    for name in ("name", "phone", "web", "address", "source", "last_reviewed"):
        if name in f:
            value = f[name].strip()
            data[name] = value or (None if name in ("phone", "web", "address") else "")
    return data


def _flags_for(request: Request, kb, entry_id: str) -> list[Problem]:
    """Fields of this entry that a service's unpublished new number still needs fixed."""
    engine = request.app.state.engine
    found = []
    entry = kb.entries.get(entry_id)
    for sid in entry.services if entry else []:
        pending = content.draft(engine, "service", sid)
        if pending is None:
            continue
        try:
            new = content.parse("service", sid, pending.data)
        except content.Invalid:
            continue
        mine = content.draft(engine, "entry", entry_id)
        candidate = kb
        if mine is not None:
            try:
                candidate = content.replaced(
                    kb, "entry", entry_id, content.parse("entry", entry_id, mine.data)
                )
            except content.Invalid:
                pass
        found += [
            p
            for p in content.old_number_problems(candidate, sid, kb.services.get(sid), new)
            if p.entry_id == entry_id
        ]
    return found


# -- list -----------------------------------------------------------------------------------
@router.get("/workspace/content", include_in_schema=False)
def content_list(
    request: Request,
    q: str = "",
    topic: str = "",
    language: str = "",
    status: str = "",
    db: Session = Depends(db_session),
):
    login = web_login(request, db, EDITORS)
    kb = _published(request)
    helpful = _helpful(db)
    db.commit()
    pending = content.drafts_of(request.app.state.engine)
    today = date.today()
    needle = q.casefold().strip()
    rows = []
    for eid, e in sorted(kb.entries.items()):
        states = {lang: e.translation_state(lang) for lang in TRANSLATED_LANGUAGES}
        if topic and e.topic != topic:
            continue
        if needle and not any(
            needle in text.casefold()
            for text in [eid, *e.title.values(), *(q for qs in e.questions.values() for q in qs)]
        ):
            continue
        if status == "due" and not (e.review_by and e.review_by <= today):
            continue
        if status in ("stale", "missing", "machine", "reviewed"):
            langs = [language] if language else list(TRANSLATED_LANGUAGES)
            if not any(states.get(lang) == status for lang in langs):
                continue
        yes, total = helpful.get(eid, (0, 0))
        rows.append(
            {
                "id": eid,
                "topic": e.topic,
                "title": e.title["en"],
                "states": states,
                "review_by": e.review_by,
                "due": bool(e.review_by and e.review_by <= today),
                "helpful": (yes, total),
                "draft": ("entry", eid) in pending,
            }
        )
    services = [
        {"id": sid, "name": s.name, "phone": s.phone, "draft": ("service", sid) in pending}
        for sid, s in sorted(kb.services.items())
    ]
    return page(
        request,
        "content_list.html",
        login,
        rows=rows,
        services=services,
        q=q,
        topic=topic,
        language=language,
        show=status,
        topics=TOPICS,
        languages=TRANSLATED_LANGUAGES,
    )


# -- one entry ------------------------------------------------------------------------------
def _entry_page(request: Request, login: Login, entry_id: str, problems=(), status=200, data=None):
    engine = request.app.state.engine
    kb = _published(request)
    served = content.current(engine, "entry", entry_id)
    pending = content.draft(engine, "entry", entry_id)
    if served is None and pending is None:
        raise Refused(404, "There is no such entry.")
    data = data or (pending.data if pending else served[1])  # type: ignore[index]
    published_entry = kb.entries.get(entry_id)  # None: a new entry, not published yet
    shown = Entry.model_validate(data) if _valid_entry(data) else published_entry
    if shown is None:
        shown = Entry.model_validate(pending.data)  # type: ignore[union-attr]
    new_hash = source_hash(shown.answer["en"])
    translations = []
    for lang in TRANSLATED_LANGUAGES:
        t = data["translations"].get(lang)
        state = shown.translation_state(lang) if t else "missing"
        diff = None
        if state == "stale" and t:
            old_text = content.source_text_of(engine, entry_id, t.get("source_hash"))
            if old_text is not None:
                diff = word_diff(old_text, shown.answer["en"])
        translations.append({"lang": lang, "t": t or {}, "state": state, "diff": diff})
    flags = list(problems) + _flags_for(request, kb, entry_id)
    warnings = content.warnings_for(kb, entry_id, shown)
    return page(
        request,
        "content_entry.html",
        login,
        status=status,
        entry_id=entry_id,
        data=data,
        version=served[0] if served else 0,
        history=content.history(engine, "entry", entry_id)[:1],
        draft=pending,
        translations=translations,
        problems=_by_loc(flags, entry_id),
        other_problems=[p for p in flags if p.entry_id != entry_id],
        regions=REGIONS,
        languages=LANGUAGES,
        states=STATES,
        warnings=warnings,
        english_changed=published_entry is not None
        and source_hash(published_entry.answer["en"]) != new_hash,
    )


def _valid_entry(data: dict) -> bool:
    try:
        Entry.model_validate(data)
        return True
    except Exception:
        return False


@router.get("/workspace/content/entries/{entry_id}", include_in_schema=False)
def entry_page(entry_id: str, request: Request, db: Session = Depends(db_session)):
    login = web_login(request, db, EDITORS)
    db.commit()
    return _entry_page(request, login, entry_id)


@router.post("/workspace/content/entries/{entry_id}", include_in_schema=False)
def entry_save(
    entry_id: str, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = web_login(request, db, EDITORS)
    check_csrf(login, data)
    db.commit()  # the session's touch: content below writes through its own connections
    engine = request.app.state.engine
    action = data.get("action", "save")
    if action == "discard":
        content.discard_draft(engine, "entry", entry_id)
        auth.audit(db, login.user, "content_discard", detail=f"entry {entry_id}")
        db.commit()
        return back(f"/content/entries/{entry_id}", "saved")
    served = content.current(engine, "entry", entry_id)
    pending = content.draft(engine, "entry", entry_id)
    if served is None and pending is None:
        raise Refused(404, "There is no such entry.")
    base = pending.data if pending else served[1]  # type: ignore[index]
    edited = entry_from_form(base, data, login.user.name)
    try:
        content.save_draft(engine, "entry", entry_id, edited, login.user.name)
    except content.Invalid as exc:
        db.commit()
        return _entry_page(request, login, entry_id, exc.problems, 422, data=edited)
    if action != "publish":
        auth.audit(db, login.user, "content_draft", detail=f"entry {entry_id}")
        db.commit()
        return back(f"/content/entries/{entry_id}", "draft_saved")
    facts = {"yes": True, "no": False}.get(data.get("facts_changed", ""))
    try:
        version = content.publish(engine, "entry", entry_id, login.user.name, facts)
    except content.Invalid as exc:
        db.commit()
        return _entry_page(request, login, entry_id, exc.problems, 422)
    auth.audit(db, login.user, "content_publish", detail=f"entry {entry_id} version {version}")
    db.commit()
    return back(f"/content/entries/{entry_id}", "published")


# -- a new entry ----------------------------------------------------------------------------
def new_entry_data(f: dict[str, str], owner: str) -> dict:
    """A new entry's data from the "new entry" form (the fields the schema requires)."""
    base = {
        "id": f.get("id", "").strip(),
        "topic": f.get("topic", ""),
        "owner": owner,
        "last_reviewed": date.today().isoformat(),
        "region": "all",
        "services": [],
        "sources": [],
        "title": {"en": "", "da": ""},
        "answer": {"en": "", "da": ""},
        "translations": {},
        "questions": {},
    }
    return entry_from_form(base, f, owner)


@router.get("/workspace/content/new", include_in_schema=False)
def new_entry_page(request: Request, ids: str = "", db: Session = Depends(db_session)):
    """The form for a new entry; `ids`: unanswered questions to start its example questions."""
    login = web_login(request, db, EDITORS)
    questions = unanswered_texts(db, ids)
    db.commit()
    return page(
        request,
        "content_new.html",
        login,
        data=None,
        questions=questions,
        ids=ids,
        topics=TOPICS,
        languages=LANGUAGES,
        problems={},
    )


@router.post("/workspace/content/new", include_in_schema=False)
def new_entry(request: Request, data: dict = Depends(form), db: Session = Depends(db_session)):
    login = web_login(request, db, EDITORS)
    check_csrf(login, data)
    db.commit()  # the session's touch: content below writes through its own connections
    engine = request.app.state.engine
    entry = new_entry_data(data, login.user.name)
    problems: list[Problem] = []
    if content.current(engine, "entry", entry["id"]) or content.draft(engine, "entry", entry["id"]):
        problems.append(Problem(entry["id"], "id", "an entry with this id exists already"))
    if not problems:
        try:
            content.save_draft(engine, "entry", entry["id"], entry, login.user.name)
        except content.Invalid as exc:
            problems = exc.problems
    if problems:
        questions = {lang: entry["questions"].get(lang, []) for lang in LANGUAGES}
        db.commit()
        return page(
            request,
            "content_new.html",
            login,
            status=422,
            data=entry,
            questions=questions,
            ids=data.get("ids", ""),
            topics=TOPICS,
            languages=LANGUAGES,
            problems=_by_loc(problems),
        )
    dismiss_unanswered(db, data.get("ids", ""))
    auth.audit(db, login.user, "content_draft", detail=f"new entry {entry['id']}")
    db.commit()
    return back(f"/content/entries/{entry['id']}", "draft_saved")


def _ids(ids: str) -> list[int]:
    return [int(x) for x in ids.split(",") if x.strip().isdigit()][:1000]


def unanswered_texts(db: Session, ids: str) -> dict[str, list[str]]:
    """The words of unanswered questions (by row id), per language, each once."""
    out: dict[str, list[str]] = {}
    if not _ids(ids):
        return out
    rows = db.scalars(
        select(UnansweredQuestion).where(
            UnansweredQuestion.id.in_(_ids(ids)), UnansweredQuestion.dismissed_at.is_(None)
        )
    )
    for row in rows:
        text = " ".join(row.text.split())
        if text and text not in out.setdefault(row.language, []):
            out[row.language].append(text)
    return out


def dismiss_unanswered(db: Session, ids: str) -> None:
    """The questions an editor turned into content leave the unanswered list."""
    if _ids(ids):
        db.execute(
            update(UnansweredQuestion)
            .where(UnansweredQuestion.id.in_(_ids(ids)), UnansweredQuestion.dismissed_at.is_(None))
            .values(dismissed_at=utcnow())
        )


@router.post("/workspace/content/add-questions", include_in_schema=False)
def add_questions(request: Request, data: dict = Depends(form), db: Session = Depends(db_session)):
    """An unanswered group's questions become example questions in an entry's draft."""
    login = web_login(request, db, EDITORS)
    check_csrf(login, data)
    db.commit()  # the session's touch: content below writes through its own connections
    engine = request.app.state.engine
    entry_id = data.get("entry_id", "")
    served = content.current(engine, "entry", entry_id)
    if served is None:
        raise Refused(404, "Choose an entry to add the questions to.")
    pending = content.draft(engine, "entry", entry_id)
    entry = copy.deepcopy(pending.data if pending else served[1])
    added = 0
    found = unanswered_texts(db, data.get("ids", ""))
    db.commit()
    for lang, texts in found.items():
        have = entry["questions"].setdefault(lang, [])
        for text in texts:
            if text.casefold() not in {q.casefold() for q in have}:
                have.append(text)
                added += 1
    content.save_draft(engine, "entry", entry_id, entry, login.user.name)
    dismiss_unanswered(db, data.get("ids", ""))
    auth.audit(db, login.user, "content_draft", detail=f"entry {entry_id}: {added} questions added")
    db.commit()
    return back(f"/content/entries/{entry_id}", "questions_added")


# -- one service ----------------------------------------------------------------------------
def _service_page(request: Request, login: Login, sid: str, problems=(), status=200, data=None):
    engine = request.app.state.engine
    kb = _published(request)
    served = content.current(engine, "service", sid)
    if served is None:
        raise Refused(404, "There is no such service.")
    pending = content.draft(engine, "service", sid)
    return page(
        request,
        "content_service.html",
        login,
        status=status,
        service_id=sid,
        data=data or (pending.data if pending else served[1]),
        version=served[0],
        draft=pending,
        used_by=content.entries_by_service(kb, sid),
        problems=_by_loc([p for p in problems if p.entry_id == sid]),
        entry_problems=[p for p in problems if p.entry_id != sid],
        entry_drafts=[
            eid
            for eid in content.entries_by_service(kb, sid)
            if content.draft(engine, "entry", eid) is not None
        ],
    )


@router.get("/workspace/content/services/{sid}", include_in_schema=False)
def service_page(sid: str, request: Request, db: Session = Depends(db_session)):
    login = web_login(request, db, EDITORS)
    db.commit()
    return _service_page(request, login, sid)


@router.post("/workspace/content/services/{sid}", include_in_schema=False)
def service_save(
    sid: str, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = web_login(request, db, EDITORS)
    check_csrf(login, data)
    db.commit()  # the session's touch: content below writes through its own connections
    engine = request.app.state.engine
    action = data.get("action", "save")
    if action == "discard":
        content.discard_draft(engine, "service", sid)
        auth.audit(db, login.user, "content_discard", detail=f"service {sid}")
        db.commit()
        return back(f"/content/services/{sid}", "saved")
    served = content.current(engine, "service", sid)
    if served is None:
        raise Refused(404, "There is no such service.")
    pending = content.draft(engine, "service", sid)
    edited = service_from_form(pending.data if pending else served[1], data)
    try:
        content.save_draft(engine, "service", sid, edited, login.user.name)
    except content.Invalid as exc:
        db.commit()
        problems = [Problem(sid, p.loc, p.message) for p in exc.problems]
        return _service_page(request, login, sid, problems, 422, data=edited)
    if action != "publish":
        auth.audit(db, login.user, "content_draft", detail=f"service {sid}")
        db.commit()
        return back(f"/content/services/{sid}", "draft_saved")
    facts = {"yes": True, "no": False}.get(data.get("facts_changed", ""))
    try:
        version = content.publish(engine, "service", sid, login.user.name, facts)
    except content.Invalid as exc:
        db.commit()
        return _service_page(request, login, sid, exc.problems, 422)
    auth.audit(db, login.user, "content_publish", detail=f"service {sid} version {version}")
    db.commit()
    return back(f"/content/services/{sid}", "published")


# -- versions -------------------------------------------------------------------------------
@router.get("/workspace/content/{kinds}/{key}/versions", include_in_schema=False)
def versions_page(kinds: str, key: str, request: Request, db: Session = Depends(db_session)):
    login = web_login(request, db, EDITORS)
    db.commit()
    kind = _kind(kinds)
    found = content.history(request.app.state.engine, kind, key)
    if not found:
        raise Refused(404, "There is no such item.")
    return page(
        request, "content_versions.html", login, kind=kind, kinds=kinds, key=key, versions=found
    )


@router.post("/workspace/content/{kinds}/{key}/restore", include_in_schema=False)
def restore_version(
    kinds: str,
    key: str,
    request: Request,
    data: dict = Depends(form),
    db: Session = Depends(db_session),
):
    login = web_login(request, db, EDITORS)
    check_csrf(login, data)
    db.commit()  # the session's touch: content below writes through its own connections
    kind = _kind(kinds)
    wanted = data.get("version", "")
    if not wanted.isdigit():
        raise Refused(400, "Choose a version to restore.")
    try:
        version = content.restore(request.app.state.engine, kind, key, int(wanted), login.user.name)
    except content.Invalid as exc:
        raise Refused(422, "This version cannot be restored: " + str(exc)) from None
    auth.audit(
        db, login.user, "content_restore", detail=f"{kind} {key} version {wanted} as {version}"
    )
    db.commit()
    return back(f"/content/{kinds}/{key}/versions", "restored")


def _kind(kinds: str) -> str:
    if kinds not in KINDS:
        raise Refused(404, "There is no such page.")
    return KINDS[kinds]


# -- JSON API -------------------------------------------------------------------------------
def editor_token(request: Request, db: Session = Depends(db_session)) -> User:
    """An editor's or an admin's API token (a counsellor's token is refused here)."""
    user = token_user(request, db)
    if user.role not in EDITORS:
        raise Refused(403, "Only editors' and admins' tokens can change content.")
    db.commit()
    return user


def _invalid(exc: content.Invalid) -> JSONResponse:
    return JSONResponse(
        {
            "error": "the change was refused",
            "problems": [
                {"entry": p.entry_id, "field": p.loc, "message": p.message} for p in exc.problems
            ],
        },
        status_code=422,
    )


@router.get("/api/v1/entries", tags=["editors"], summary="Entries and their translations")
def api_entries(request: Request, user: User = Depends(editor_token)):
    kb = _published(request)
    pending = content.drafts_of(request.app.state.engine)
    return {
        "entries": [
            {
                "id": eid,
                "topic": e.topic,
                "title": e.title["en"],
                "review_by": e.review_by.isoformat() if e.review_by else None,
                "draft": ("entry", eid) in pending,
                "translations": {lang: e.translation_state(lang) for lang in TRANSLATED_LANGUAGES},
            }
            for eid, e in sorted(kb.entries.items())
        ]
    }


@router.get("/api/v1/services", tags=["editors"], summary="Services (phone numbers, addresses)")
def api_services(request: Request, user: User = Depends(editor_token)):
    kb = _published(request)
    return {"services": [{"id": sid, **content.dump(s)} for sid, s in sorted(kb.services.items())]}


def _api_item(kind: str):
    def get_item(
        key: str, request: Request, draft: bool = False, user: User = Depends(editor_token)
    ):
        engine = request.app.state.engine
        if draft and (pending := content.draft(engine, kind, key)) is not None:
            return pending.data
        served = content.current(engine, kind, key)
        if served is None:
            raise Refused(404, f"There is no {kind} {key!r}.")
        return served[1]

    def put_draft(
        key: str, request: Request, body: dict = Body(...), user: User = Depends(editor_token)
    ):
        engine = request.app.state.engine
        if content.current(engine, kind, key) is None:
            raise Refused(404, f"There is no {kind} {key!r}.")
        try:
            problems = content.preview(engine, kind, key, body)
            if problems:
                raise content.Invalid(problems)
            saved = content.save_draft(engine, kind, key, body, user.name)
        except content.Invalid as exc:
            return _invalid(exc)
        return {"draft": True, "base_version": saved.base_version}

    def publish(
        key: str,
        request: Request,
        body: dict | None = Body(None),
        user: User = Depends(editor_token),
        db: Session = Depends(db_session),
    ):
        facts = (body or {}).get("facts_changed")
        if facts is not None and not isinstance(facts, bool):
            raise Refused(400, "facts_changed is true or false.")
        engine = request.app.state.engine
        if content.current(engine, kind, key) is None and content.draft(engine, kind, key) is None:
            raise Refused(404, f"There is no {kind} {key!r}.")
        try:
            version = content.publish(request.app.state.engine, kind, key, user.name, facts)
        except content.Invalid as exc:
            return _invalid(exc)
        auth.audit(db, user, "content_publish", detail=f"{kind} {key} version {version} (API)")
        db.commit()
        return {"version": version}

    def list_versions(key: str, request: Request, user: User = Depends(editor_token)):
        found = content.history(request.app.state.engine, kind, key)
        if not found:
            raise Refused(404, f"There is no {kind} {key!r}.")
        return {
            "versions": [
                {
                    "version": v.version,
                    "author": v.author,
                    "note": v.note,
                    "created_at": aware(v.created_at).isoformat(),
                }
                for v in found
            ]
        }

    def restore(
        key: str,
        version: int,
        request: Request,
        user: User = Depends(editor_token),
        db: Session = Depends(db_session),
    ):
        if content.current(request.app.state.engine, kind, key) is None:
            raise Refused(404, f"There is no {kind} {key!r}.")
        try:
            new = content.restore(request.app.state.engine, kind, key, version, user.name)
        except content.Invalid as exc:
            return _invalid(exc)
        auth.audit(db, user, "content_restore", detail=f"{kind} {key} version {version} (API)")
        db.commit()
        return {"version": new}

    def discard(key: str, request: Request, user: User = Depends(editor_token)):
        content.discard_draft(request.app.state.engine, kind, key)
        return {"draft": False}

    return get_item, put_draft, publish, list_versions, restore, discard


for _kinds, _kind_name in KINDS.items():
    _get, _put, _publish, _versions, _restore, _discard = _api_item(_kind_name)
    _base = f"/api/v1/{_kinds}/{{key}}"
    for _path, _endpoint, _method, _summary in (
        ("", _get, "GET", f"One {_kind_name} as JSON (?draft=true: its draft)"),
        ("/draft", _put, "PUT", f"Save a draft of the {_kind_name}"),
        ("/draft", _discard, "DELETE", f"Discard the {_kind_name}'s draft"),
        ("/publish", _publish, "POST", f"Publish the {_kind_name}'s draft"),
        ("/versions", _versions, "GET", "Every published version"),
        ("/versions/{version}/restore", _restore, "POST", "Publish an earlier version again"),
    ):
        router.add_api_route(
            _base + _path, _endpoint, methods=[_method], tags=["editors"], summary=_summary
        )
