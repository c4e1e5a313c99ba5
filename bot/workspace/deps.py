"""Request plumbing for the workspace: a database session per request, the logged-in user
(cookie session or bearer token), form parsing, and waking the delivery worker.

Forms are parsed here from the urlencoded body, so the workspace needs no multipart library.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs

import anyio.from_thread
from fastapi import Request
from sqlalchemy.orm import Session

from bot.referrals.models import User, UserSession
from bot.workspace import auth
from bot.workspace.cases import Refused

log = logging.getLogger(__name__)
COOKIE = "ws_session"
LOGIN_COOKIE = "ws_login"
MAX_FORM = 64 * 1024


def db_session(request: Request):
    with Session(request.app.state.engine, expire_on_commit=False) as db:
        yield db


@dataclass
class Login:
    user: User
    session: UserSession | None  # None for API tokens


class LoginRequired(Exception):
    """No valid session: the browser is sent to the login page."""


def web_login(
    request: Request, db: Session, roles: tuple[str, ...] = (), touch: bool = True
) -> Login:
    row = auth.session_for(db, request.cookies.get(COOKIE), touch)
    if row is None:
        db.commit()  # an expired session row is deleted
        raise LoginRequired()
    if roles and row.user.role not in roles:
        db.commit()
        raise Refused(403, "Your account does not have access to this page.")
    return Login(row.user, row)


def token_user(request: Request, db: Session) -> User:
    """The account of the request's API token (`Authorization: Bearer wsk_...`); 401 without."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    user = auth.user_for_token(db, token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        raise Refused(401, "A valid API token is needed: Authorization: Bearer <token>.")
    return user


def api_login(request: Request, db: Session) -> Login:
    user = token_user(request, db)
    if user.role == "editor":
        raise Refused(403, "Editors' tokens cannot work on cases.")
    return Login(user, None)


async def form(request: Request) -> dict[str, str]:
    """The urlencoded form body; the first value of each field. A form a browser says was
    sent from another site (Sec-Fetch-Site) is refused before anything else."""
    if request.headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        raise Refused(403, "This form was sent from another site.")
    body = await request.body()
    if len(body) > MAX_FORM:
        raise Refused(413, "The form is too large.")
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def check_csrf(login: Login, data: dict[str, str]) -> None:
    if login.session is None or not auth.csrf_ok(login.session, data.get("csrf")):
        raise Refused(403, "This form has expired. Go back, reload the page and try again.")


_PROCESS_SECRET = secrets.token_hex(32)  # only where the app has no settings (never in use)


def signing_key(request: Request) -> str:
    """The app's secret (HASH_KEY), the same in every gateway process."""
    return hash_key(request) or _PROCESS_SECRET


def client_address(request: Request) -> str:
    """The peer, or X-Forwarded-For only from TRUSTED_PROXIES (rewritten in gateway/app.py)."""
    return request.client.host if request.client else ""


def hash_key(request: Request) -> str | None:
    settings = getattr(request.app.state, "settings", None)
    return settings.hash_key if settings is not None else None


def wake_delivery(request: Request) -> None:
    """From a worker thread: ask the event loop to wake the delivery worker."""
    delivery = getattr(request.app.state, "delivery", None)
    if delivery is None:
        return
    try:
        anyio.from_thread.run_sync(delivery.wake)
    except RuntimeError:  # called on the loop itself
        delivery.wake()
