"""The counsellor workspace: web pages under /workspace, a JSON API under /api/v1, and the
queue's background chores (escalation, optional expiry). Mounted on the gateway by
`install(app)`; `background(app)` runs in the gateway's lifespan.

May touch: the referral tables (bot.referrals), the contact's messages (read; new ones only
through bot.core.outbox), the delivery worker's wake-up.
"""

from __future__ import annotations

import asyncio
import logging
import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot.workspace.cases import Refused
from bot.workspace.deps import LoginRequired

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    # scripts only from files under static/: no inline <script>, no on...= handlers
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # pages show her messages: keep them out of caches on shared computers
    "Cache-Control": "no-store",
}


def install(app: FastAPI) -> None:
    from bot.workspace import api, apidocs, content, dashboard, export, stats, unanswered, web

    app.include_router(web.router)
    app.include_router(api.router)
    app.include_router(apidocs.router)  # /openapi.json, /docs, /redoc: not public
    app.include_router(export.router)  # right of access: her data as a file
    app.include_router(unanswered.router)  # editors: what the bot could not answer
    app.include_router(content.router)  # editors: entries, services, versions
    app.include_router(dashboard.router)  # editors: conversations, answers, reviews
    app.include_router(stats.router)  # the team lead: cases, waiting times, outcomes

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        if request.url.path.endswith(".json"):
            return JSONResponse({"error": "login required"}, status_code=401)
        target = "/workspace/login"
        if request.cookies.get("ws_session"):
            target += "?done=expired"
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused):
        if request.url.path.startswith("/api/") or request.url.path.endswith(".json"):
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)
        return await run_in_threadpool(web.error_page, request, exc)

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        path = request.url.path
        if path.startswith("/workspace") or path.startswith("/api/v1"):
            for key, value in SECURITY_HEADERS.items():
                if key == "Cache-Control" and path.startswith("/workspace/static/"):
                    continue
                response.headers.setdefault(key, value)
        return response


def escalate_after_minutes() -> float:
    return float(os.environ.get("WORKSPACE_ESCALATE_AFTER_MIN", "15"))


def claim_timeout_minutes() -> float:
    return float(os.environ.get("WORKSPACE_CLAIM_TIMEOUT_MIN", "30"))


def expire_after_hours() -> float:
    return float(os.environ.get("WORKSPACE_EXPIRE_AFTER_HOURS", "0"))  # 0: never


def chores(engine, held_notice_after_s: float | None = None) -> dict[str, list[int]]:
    """One round of the queue's chores: case ids released, escalated, expired, and (with
    held_notice_after_s) told that their counsellor has their message."""
    from bot.referrals import queue
    from bot.workspace import held
    from bot.workspace.auth import audit

    with Session(engine) as db:
        done = {"released": queue.release_stale_claims(db, after_minutes=claim_timeout_minutes())}
        for case_id in done["released"]:
            audit(db, None, "auto_release", case_id, "claimed but not answered in time")
        done["escalated"] = queue.escalate_overdue(db, after_minutes=escalate_after_minutes())
        done["expired"] = (
            queue.expire_stale(db, after_hours=expire_after_hours())
            if expire_after_hours() > 0
            else []
        )
        if held_notice_after_s is not None:
            done["held_notice"] = held.send_notices(db, held_notice_after_s)
        db.commit()
    return done


async def background(app: FastAPI, every_s: float = 30.0) -> None:
    """Releases claims nobody answered, escalates cases waiting too long, expires stale
    ones where configured, and tells her that her counsellor has her message. Runs at least
    six times per HELD_NOTICE_AFTER_S, so the notice is at most a sixth late."""
    after_s = getattr(getattr(app.state, "settings", None), "held_notice_after_s", None)
    if after_s is not None:
        every_s = min(every_s, max(0.5, after_s / 6))
    app.state.workspace_rounds = 0  # finished rounds, for tests that wait for one
    while True:
        await asyncio.sleep(every_s)
        try:
            done = await asyncio.to_thread(chores, app.state.engine, after_s)
            if done.get("held_notice") and getattr(app.state, "delivery", None) is not None:
                app.state.delivery.wake()
            app.state.workspace_rounds += 1
            if any(done.values()):
                log.info("referral queue: %s", {k: len(v) for k, v in done.items()})
        except Exception:  # the next round tries again
            log.exception("referral queue chores failed")
