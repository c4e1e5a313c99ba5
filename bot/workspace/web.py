"""The counsellor workspace's web pages under /workspace: login, queue, case, canned replies,
admin. Server-rendered (Jinja2), plain forms that work without JavaScript; a small script
polls JSON endpoints for live updates.

Every POST carries the session's CSRF token (the login form a token the server signed); the
session cookie is HttpOnly and SameSite=Strict. Failed logins lock per username and per
address in the database (bot/workspace/lockout.py). Opening a case is written to the audit
log.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.referrals import hours, queue
from bot.referrals.models import ROLES, ApiToken, AuditLog, CannedReply, OpeningHours, User
from bot.workspace import auth, cases, i18n, labels, lockout
from bot.workspace.deps import (
    COOKIE,
    LOGIN_COOKIE,
    Login,
    check_csrf,
    client_address,
    db_session,
    form,
    hash_key,
    signing_key,
    wake_delivery,
    web_login,
)

HERE = Path(__file__).resolve().parent
STATIC = {"workspace.css": "text/css", "workspace.js": "text/javascript"}
PREFIX = "/workspace"


def _templates(code: str) -> Jinja2Templates:
    """The templates in one interface language (bot/workspace/i18n.py)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=jinja2.select_autoescape(),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(i18n.translations(code), newstyle=True)  # type: ignore[attr-defined]
    found = Jinja2Templates(env=env)
    translate = i18n.translations(code).gettext

    def language_name(language: str | None) -> str:
        """A language's name in the interface language, with its own name: "Arabisk (العربية)"."""
        if not language:
            return translate("unknown")
        name, native = (
            translate(labels.LANGUAGES.get(language, language)),
            labels.NAMES.get(language),
        )
        return f"{name} ({native})" if native and native != name else name

    found.env.globals.update(
        labels=labels,
        language_name=language_name,
        ui_language=code,
        ui_languages=i18n.UI_LANGUAGES,
        js_strings=i18n.js_strings(code),
    )
    found.env.filters["cph"] = labels.copenhagen
    return found


TEMPLATES = {code: _templates(code) for code in i18n.UI_LANGUAGES}
templates = TEMPLATES[i18n.DEFAULT]  # modules that render without a user (none so far)
router = APIRouter(prefix=PREFIX, include_in_schema=False)

NOTICES = {
    "claimed": "The case is yours. She has not been told yet: say hello.",
    "replied": "Your reply is on its way to her.",
    "noted": "Note saved. Notes are never sent to her.",
    "released": "The case is back in the queue, in its old place.",
    "transferred": "The case has been transferred. She has been told that another counsellor "
    "will answer.",
    "resolved": "The case is resolved. She has been told that the bot answers again.",
    "consent": "Her consent has been recorded.",
    "saved": "Saved.",
    "draft_saved": "Draft saved. The bot still gives the published version until you publish.",
    "published": "Published. The bot gives the new version from its next answer.",
    "questions_added": "The questions were added to the draft's example questions: check them for "
    "names or anything else that could identify her, then publish.",
    "restored": "Restored: the chosen version is published again as the newest.",
    "logged_out": "You are logged out.",
    "expired": "Your session has ended. Please log in again.",
}


def _secure(request: Request) -> bool:
    settings = getattr(request.app.state, "settings", None)
    return request.url.scheme == "https" or (settings is not None and not settings.local)


def ui_language(request: Request, login: Login | None) -> str:
    """Her own choice when logged in; on the login page, the last choice in this browser."""
    if login is not None:
        return i18n.choose(login.user.ui_language)
    return i18n.choose(request.cookies.get(i18n.COOKIE))


def page(
    request: Request,
    name: str,
    login: Login | None,
    status: int = 200,
    ui: str | None = None,
    **ctx,
):
    code = i18n.choose(ui) if ui else ui_language(request, login)
    notice = NOTICES.get(request.query_params.get("done", ""))
    ctx.update(
        login=login,
        user=login.user if login else None,
        csrf=login.session.csrf_token if login and login.session else "",
        notice=i18n.translations(code).gettext(notice) if notice else None,
    )
    return TEMPLATES[code].TemplateResponse(request, name, ctx, status_code=status)


def error_page(request: Request, exc: cases.Refused):
    """A refusal inside the normal layout: with her navigation when she is logged in."""
    with Session(request.app.state.engine, expire_on_commit=False) as db:
        row = auth.session_for(db, request.cookies.get(COOKIE), False)
        login = Login(row.user, row) if row is not None else None
        translate = i18n.translations(ui_language(request, login)).gettext
        response = page(
            request,
            "error.html",
            login,
            exc.status,
            message=translate(exc.message),  # the fixed ones are in the catalogue
            title=translate(exc.title) if exc.title else exc.title,
        )
        db.commit()
    return response


def back(path: str, done: str | None = None, **params) -> RedirectResponse:
    query = {**params, **({"done": done} if done else {})}
    return RedirectResponse(
        PREFIX + path + ("?" + urlencode(query) if query else ""), status_code=303
    )


# -- static files and login -----------------------------------------------------------------------
@router.get("/static/{name}")
def static(name: str):
    if name not in STATIC:
        return Response(status_code=404)
    return FileResponse(
        HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "no-cache"}
    )


@router.get("")
@router.get("/")
def home():
    return back("/login")  # which sends whoever is logged in to her start page


def start_page(user: User) -> str:
    """Where an account's work begins: editors at the content, everyone else at the queue."""
    return "/content" if user.role == "editor" else "/queue"


@router.get("/login")
def login_page(request: Request, ui: str = "", db: Session = Depends(db_session)):
    row = auth.session_for(db, request.cookies.get(COOKIE))
    if row is not None:
        db.commit()
        return back(start_page(row.user))
    response = _login_form(request, ui=ui or None)
    if ui in i18n.UI_LANGUAGES:  # remembered in this browser for the next login
        _remember_ui(request, response, ui)
    return response


@router.post("/me/language")
def my_language(request: Request, data: dict = Depends(form), db: Session = Depends(db_session)):
    """Her choice of the workspace's language, kept with her account."""
    login = web_login(request, db)
    check_csrf(login, data)
    if data.get("ui_language") not in i18n.UI_LANGUAGES:
        raise cases.Refused(400, "Choose English or Dansk.")
    login.user.ui_language = data["ui_language"]
    db.commit()
    target = data.get("next", "")
    response = RedirectResponse(
        target if target.startswith(PREFIX + "/") else PREFIX + "/queue", status_code=303
    )
    _remember_ui(request, response, data["ui_language"])
    return response


def _login_form(request: Request, error: str = "", status: int = 200, ui: str | None = None):
    token = auth.login_csrf_token(signing_key(request))
    if error:
        error = i18n.translations(ui or ui_language(request, None)).gettext(error)
    response = page(request, "login.html", None, status, ui=ui, login_csrf=token, error=error)
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path=PREFIX,
        max_age=3600,
    )
    return response


@router.post("/login")
def login(request: Request, data: dict = Depends(form), db: Session = Depends(db_session)):
    secret = signing_key(request)
    if not auth.login_csrf_ok(secret, data.get("csrf"), request.cookies.get(LOGIN_COOKIE)):
        return _login_form(request, "The login form had expired. Please try again.", 403)
    username = (data.get("username") or "").strip().lower()
    who = lockout.keys(secret, username, client_address(request))
    now = cases.now()
    if lockout.locked(db, who, now):
        db.commit()
        return _login_form(
            request,
            "Too many failed attempts. Wait 15 minutes, or ask an "
            "administrator to reset your password.",
            429,
        )
    user = auth.authenticate(db, username, data.get("password") or "")
    if user is None:
        lockout.record_failure(db, who, now)
        auth.audit(db, None, "login_failed", detail=username[:60])
        db.commit()
        return _login_form(request, "The username or password is not right.", 401)
    lockout.forget_pair(db, who)
    token, _ = auth.start_session(db, user)
    auth.audit(db, user, "login")
    db.commit()
    response = back(start_page(user))
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path=PREFIX,
        max_age=int(auth.absolute_timeout().total_seconds()),
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
def logout(request: Request, data: dict = Depends(form), db: Session = Depends(db_session)):
    login = web_login(request, db)
    check_csrf(login, data)
    auth.audit(db, login.user, "logout")
    auth.end_session(db, request.cookies.get(COOKIE))
    db.commit()
    response = RedirectResponse(PREFIX + "/login?done=logged_out", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    _remember_ui(request, response, login.user.ui_language)  # the login page in her language
    return response


def _remember_ui(request: Request, response: Response, code: str) -> None:
    """The interface language for this browser's login page (no account is known there)."""
    response.set_cookie(
        i18n.COOKIE,
        i18n.choose(code),
        samesite="strict",
        secure=_secure(request),
        path=PREFIX,
        max_age=31536000,
    )


# -- queue ----------------------------------------------------------------------------------------
def _filters(request: Request, login: Login) -> dict:
    q = request.query_params
    return {
        "language": q.get("language", ""),
        "topic": q.get("topic", ""),
        "status": q.get("status", "open"),
        "scope": q.get("scope", "mine") if login.user.role == "admin" else "mine",
    }


@router.get("/queue")
def queue_page(request: Request, db: Session = Depends(db_session)):
    login = web_login(request, db, ("counsellor", "admin"))
    filters = _filters(request, login)
    searched = request.query_params.get("q", "").strip()[:200]
    rows = (
        cases.search(db, login.user, searched)
        if searched
        else cases.queue_rows(db, login.user, **filters)
    )
    db.commit()
    return page(
        request,
        "queue.html",
        login,
        rows=rows,
        filters=filters,
        searched=searched,
        open_now=hours.open_now(db, cases.now()),
        next_opening=hours.opening_text(
            hours.next_opening(db, cases.now()), "en"
        ),  # Danish: the template
    )


@router.get("/queue.json")
def queue_json(request: Request, db: Session = Depends(db_session)):
    login = web_login(request, db, ("counsellor", "admin"), touch=False)
    searched = request.query_params.get("q", "").strip()[:200]
    rows = (
        cases.search(db, login.user, searched)
        if searched
        else cases.queue_rows(db, login.user, **_filters(request, login))
    )
    db.commit()
    return JSONResponse(
        {"cases": rows, "waiting": sum(r["status"] == "waiting" for r in rows)},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/claim-next")
def claim_next(request: Request, data: dict = Depends(form), db: Session = Depends(db_session)):
    login = web_login(request, db, ("counsellor", "admin"))
    check_csrf(login, data)
    case = cases.claim(db, login.user)
    db.commit()
    return back(f"/cases/{case.id}", "claimed")


# -- one case -------------------------------------------------------------------------------------
@router.get("/cases/{case_id}")
def case_page(case_id: int, request: Request, db: Session = Depends(db_session)):
    login = web_login(request, db, ("counsellor", "admin"))
    detail = cases.case_detail(db, login.user, case_id, hash_key=hash_key(request))
    case = cases.get_case(db, login.user, case_id)
    colleagues = [
        (u, queue.cannot_take(u, case))  # a colleague who cannot take it is shown, disabled
        for u in db.scalars(
            select(User)
            .where(
                User.active.is_(True),
                User.role.in_(("counsellor", "admin")),
                User.id != login.user.id,
            )
            .order_by(User.username)
        )
    ]
    canned = cases.canned_for(db, case.routing_language, login.user)
    db.commit()
    return page(request, "case.html", login, case=detail, colleagues=colleagues, canned=canned)


@router.get("/cases/{case_id}/messages.json")
def case_messages(case_id: int, request: Request, db: Session = Depends(db_session)):
    login = web_login(request, db, ("counsellor", "admin"), touch=False)
    case = cases.get_case(db, login.user, case_id)
    body = {"status": case.status, "transcript": cases.transcript(db, case)}
    db.commit()
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _case_post(request: Request, data: dict, db: Session) -> Login:
    login = web_login(request, db, ("counsellor", "admin"))
    check_csrf(login, data)
    return login


@router.post("/cases/{case_id}/claim")
def claim(
    case_id: int, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = _case_post(request, data, db)
    cases.claim(db, login.user, case_id)
    db.commit()
    return back(f"/cases/{case_id}", "claimed")


@router.post("/cases/{case_id}/reply")
def reply(
    case_id: int, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = _case_post(request, data, db)
    cases.reply(db, login.user, case_id, data.get("text", ""))
    db.commit()
    wake_delivery(request)
    return back(f"/cases/{case_id}", "replied")


@router.post("/cases/{case_id}/note")
def note(
    case_id: int, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = _case_post(request, data, db)
    cases.note(db, login.user, case_id, data.get("text", ""))
    db.commit()
    return back(f"/cases/{case_id}", "noted")


@router.post("/cases/{case_id}/release")
def release(
    case_id: int, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = _case_post(request, data, db)
    cases.release(db, login.user, case_id)
    db.commit()
    return back("/queue", "released")


@router.post("/cases/{case_id}/transfer")
def transfer(
    case_id: int, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = _case_post(request, data, db)
    cases.transfer(
        db,
        login.user,
        case_id,
        to_user=data.get("to_user") or None,
        to_language=data.get("to_language") or None,
        reason=data.get("reason", ""),
    )
    db.commit()
    return back("/queue", "transferred")


@router.post("/cases/{case_id}/resolve")
def resolve(
    case_id: int, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = _case_post(request, data, db)
    cases.resolve(db, login.user, case_id, data.get("outcome", ""), data.get("referred_service"))
    db.commit()
    wake_delivery(request)
    return back("/queue", "resolved")


@router.post("/cases/{case_id}/consent")
def consent(
    case_id: int, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = _case_post(request, data, db)
    cases.set_consent(db, login.user, case_id, data.get("consent") == "yes")
    db.commit()
    return back(f"/cases/{case_id}", "consent")


# -- canned replies: shared ones (editors and admins), each counsellor's own -------------------
CANNED_ROLES = ("counsellor", "editor", "admin")
SHARED_EDITORS = ("editor", "admin")


@router.get("/canned")
def canned_page(request: Request, db: Session = Depends(db_session)):
    login = web_login(request, db, CANNED_ROLES)
    order = (CannedReply.language, CannedReply.title)
    shared = list(
        db.scalars(select(CannedReply).where(CannedReply.owner_id.is_(None)).order_by(*order))
    )
    mine = list(
        db.scalars(
            select(CannedReply).where(CannedReply.owner_id == login.user.id).order_by(*order)
        )
    )
    db.commit()
    return page(
        request,
        "canned.html",
        login,
        shared=shared,
        mine=mine,
        manages_shared=login.user.role in SHARED_EDITORS,
    )


def _may_change(login: Login, row: CannedReply) -> bool:
    if row.owner_id is not None:
        return row.owner_id == login.user.id
    return login.user.role in SHARED_EDITORS


@router.post("/canned")
def canned_add(request: Request, data: dict = Depends(form), db: Session = Depends(db_session)):
    """A counsellor adds her own; an editor or admin a shared one, or her own."""
    login = web_login(request, db, CANNED_ROLES)
    check_csrf(login, data)
    title, text, lang = (data.get(k, "").strip() for k in ("title", "text", "language"))
    if not (title and text) or lang not in labels.LANGUAGES:
        raise cases.Refused(400, "A canned reply needs a language, a title and a text.")
    shared = login.user.role in SHARED_EDITORS and data.get("scope", "shared") == "shared"
    db.add(
        CannedReply(
            language=lang, title=title[:100], text=text, owner_id=None if shared else login.user.id
        )
    )
    auth.audit(
        db, login.user, "canned_add", detail=f"{'shared' if shared else 'own'} {lang}: {title[:60]}"
    )
    db.commit()
    return back("/canned", "saved")


@router.post("/canned/{reply_id}")
def canned_edit(
    reply_id: int, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    """New title and text; the language stays (the reply is offered for cases in it). Ticking
    "reviewed" marks a starter's text as checked by a person."""
    login = web_login(request, db, CANNED_ROLES)
    check_csrf(login, data)
    row = db.get(CannedReply, reply_id) if cases.row_id(reply_id) else None
    if row is None:
        raise cases.Refused(404, "No such canned reply.")
    if not _may_change(login, row):
        raise cases.Refused(403, "Shared replies are changed by editors and admins.")
    title, text = (data.get(k, "").strip() for k in ("title", "text"))
    if not (title and text):
        raise cases.Refused(400, "A canned reply needs a title and a text.")
    row.title, row.text = title[:100], text
    if data.get("reviewed") == "on":
        row.reviewed = True
    auth.audit(db, login.user, "canned_edit", detail=f"{row.language}: {title[:60]}")
    db.commit()
    return back("/canned", "saved")


@router.post("/canned/{reply_id}/delete")
def canned_delete(
    reply_id: int, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = web_login(request, db, CANNED_ROLES)
    check_csrf(login, data)
    row = db.get(CannedReply, reply_id) if cases.row_id(reply_id) else None
    if row is not None:
        if not _may_change(login, row):
            raise cases.Refused(403, "Shared replies are changed by editors and admins.")
        db.delete(row)
    auth.audit(db, login.user, "canned_delete", detail=str(reply_id))
    db.commit()
    return back("/canned", "saved")


# -- admin ----------------------------------------------------------------------------------------
@router.get("/admin")
def admin_page(request: Request, db: Session = Depends(db_session)):
    login = web_login(request, db, ("admin",))
    return _admin(request, db, login)


def _admin(request: Request, db: Session, login: Login, **extra):
    users = list(db.scalars(select(User).order_by(User.role, User.username)))
    periods = {row.weekday: row for row in db.scalars(select(OpeningHours))}
    log = list(db.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(40)))
    tokens = list(db.scalars(select(ApiToken).order_by(ApiToken.revoked, ApiToken.id.desc())))
    db.commit()
    return page(
        request,
        "admin.html",
        login,
        users=users,
        periods=periods,
        log=log,
        tokens=tokens,
        roles=ROLES,
        **extra,
    )


def _user_fields(data: dict) -> dict:
    langs = [c for c in labels.LANGUAGE_CODES if data.get(f"lang_{c}")]
    topics = [t for t in labels.TOPICS if data.get(f"topic_{t}")]
    role = data.get("role", "counsellor")
    if role not in ROLES:
        raise cases.Refused(400, "Unknown role.")
    return {
        "languages": ",".join(langs),
        "topics": ",".join(topics),
        "role": role,
        "is_woman": data.get("is_woman") == "yes",
        "display_name": data.get("display_name", "").strip()[:100],
    }


@router.post("/admin/users")
def admin_create_user(
    request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = web_login(request, db, ("admin",))
    check_csrf(login, data)
    fields = _user_fields(data)
    try:
        user = auth.create_user(db, data.get("username", ""), data.get("password", ""), **fields)
    except ValueError as exc:
        raise cases.Refused(400, str(exc)) from exc
    auth.audit(db, login.user, "user_create", detail=user.username)
    db.commit()
    return back("/admin", "saved")


@router.post("/admin/users/{user_id}")
def admin_update_user(
    user_id: int, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = web_login(request, db, ("admin",))
    check_csrf(login, data)
    user = db.get(User, user_id) if cases.row_id(user_id) else None
    if user is None:
        raise cases.Refused(404, "No such account.")
    for key, value in _user_fields(data).items():
        setattr(user, key, value)
    active = data.get("active") == "yes"
    if user.id == login.user.id and (not active or user.role != "admin"):
        raise cases.Refused(400, "You cannot deactivate yourself or remove your own admin role.")
    if user.active and not active:
        # the bot is silent while a case is held: nobody may hold one who cannot log in
        for case_id in queue.release_all_held_by(db, user):
            auth.audit(db, login.user, "release", case_id, f"{user.username} deactivated")
    user.active = active
    if data.get("password"):
        try:
            user.password_hash = auth.hash_password(data["password"])
        except ValueError as exc:
            raise cases.Refused(400, str(exc)) from exc
    auth.audit(db, login.user, "user_update", detail=user.username)
    db.commit()
    return back("/admin", "saved")


def _clock(value: str) -> time:
    """A 24-hour "HH:MM" (also "9:00" or "9.00"); ValueError otherwise."""
    hour, sep, minute = value.strip().replace(".", ":").partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and len(hour) <= 2 and len(minute) == 2):
        raise ValueError(value)
    return time(int(hour), int(minute))


@router.post("/admin/hours")
def admin_hours(request: Request, data: dict = Depends(form), db: Session = Depends(db_session)):
    login = web_login(request, db, ("admin",))
    check_csrf(login, data)
    rows = []
    for day in range(7):
        opens, closes = data.get(f"opens_{day}", ""), data.get(f"closes_{day}", "")
        if not opens and not closes:
            continue
        try:
            rows.append(
                OpeningHours(
                    weekday=day,
                    opens=_clock(opens),
                    closes=_clock(closes),
                    timezone=hours.DEFAULT_TZ,
                )
            )
        except ValueError as exc:
            raise cases.Refused(
                400,
                f"{labels.WEEKDAYS[day]}: give both times as HH:MM, or "
                "leave both empty for closed.",
            ) from exc
    db.execute(delete(OpeningHours))
    db.add_all(rows)
    auth.audit(db, login.user, "hours_update")
    db.commit()
    return back("/admin", "saved")


@router.post("/admin/tokens")
def admin_token(request: Request, data: dict = Depends(form), db: Session = Depends(db_session)):
    login = web_login(request, db, ("admin",))
    check_csrf(login, data)
    user_id = cases.row_id(data.get("user_id"))
    user = db.get(User, user_id) if user_id else None
    if user is None:
        raise cases.Refused(400, "Choose the account the token acts for.")
    token = auth.create_token(db, user, data.get("name", ""))
    auth.audit(db, login.user, "token_create", detail=f"for {user.username}")
    return _admin(request, db, login, new_token=token, token_user=user.username)


@router.post("/admin/tokens/{token_id}/revoke")
def admin_revoke_token(
    token_id: int, request: Request, data: dict = Depends(form), db: Session = Depends(db_session)
):
    login = web_login(request, db, ("admin",))
    check_csrf(login, data)
    row = db.get(ApiToken, token_id) if cases.row_id(token_id) else None
    if row is None:
        raise cases.Refused(404, "No such token.")
    row.revoked = True
    auth.audit(
        db, login.user, "token_revoke", detail=f"{row.name or row.id} of {row.user.username}"
    )
    db.commit()
    return back("/admin", "saved")
