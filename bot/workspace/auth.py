"""Workspace accounts: argon2 password hashes, browser sessions, CSRF tokens, API tokens and
the audit log.

Secrets (session cookie, API token) are random and only their SHA-256 is stored, so a copy of
the database lets nobody log in. A session expires after `idle` without use and at the latest
`absolute` after login; the CSRF token is per session and required on every form POST, and the
login form's own token is signed by the server.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.referrals.hours import aware
from bot.referrals.models import ROLES, ApiToken, AuditLog, User, UserSession

_hasher = PasswordHasher()
# Verified when the username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("no such user")
TOKEN_PREFIX = "wsk_"
MIN_PASSWORD = 10


def idle_timeout() -> timedelta:
    return timedelta(minutes=float(os.environ.get("WORKSPACE_SESSION_IDLE_MIN", "60")))


def absolute_timeout() -> timedelta:
    return timedelta(hours=float(os.environ.get("WORKSPACE_SESSION_MAX_HOURS", "12")))


def _now() -> datetime:
    return datetime.now(UTC)


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def create_user(
    db: Session,
    username: str,
    password: str,
    *,
    role: str = "counsellor",
    languages: str | list[str] = "",
    topics: str | list[str] = "",
    is_woman: bool = False,
    display_name: str = "",
) -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    username = username.strip().lower()
    if not username:
        raise ValueError("a username is needed")
    if db.scalar(select(User).where(User.username == username)):
        raise ValueError(f"the username {username!r} is taken")
    user = User(
        username=username,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
        languages=csv(languages),
        topics=csv(topics),
        is_woman=is_woman,
        active=True,
    )
    db.add(user)
    db.flush()
    return user


def csv(values: str | list[str]) -> str:
    items = values.split(",") if isinstance(values, str) else values
    return ",".join(dict.fromkeys(v.strip().lower() for v in items if v.strip()))


def authenticate(db: Session, username: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.username == username.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


# -- browser sessions -----------------------------------------------------------------------------
def start_session(db: Session, user: User) -> tuple[str, UserSession]:
    """(cookie value, session row). Old expired sessions are swept here."""
    now = _now()
    db.execute(delete(UserSession).where(UserSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=sha256(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=min(now + idle_timeout(), now + absolute_timeout()),
    )
    db.add(row)
    user.last_login_at = now
    db.flush()
    return token, row


def session_for(db: Session, token: str | None, touch: bool = True) -> UserSession | None:
    """The live session for a cookie value, its expiry slid forward unless `touch` is False
    (the pages' automatic polling must not keep an unattended screen logged in); None if
    expired."""
    if not token:
        return None
    row = db.scalar(select(UserSession).where(UserSession.token_hash == sha256(token)))
    now = _now()
    if row is None or aware(row.expires_at) <= now or not row.user.active:
        if row is not None:
            db.delete(row)
        return None
    if touch:
        row.last_seen_at = now
        row.expires_at = min(now + idle_timeout(), aware(row.created_at) + absolute_timeout())
    return row


def end_session(db: Session, token: str | None) -> None:
    if token:
        db.execute(delete(UserSession).where(UserSession.token_hash == sha256(token)))


def csrf_ok(session: UserSession, submitted: str | None) -> bool:
    # bytes: compare_digest refuses a str with characters beyond ASCII (a forged form's)
    if not submitted:
        return False
    return hmac.compare_digest(session.csrf_token.encode(), submitted.encode())


# -- the login form's CSRF token ------------------------------------------------------------------
# Before login there is no session to tie a token to, so the server signs it: "expiry.nonce.mac"
# under a key derived from the app's secret. A token the attacker made up, or set as the
# browser's ws_login cookie, carries no valid mac; any gateway process with the same secret
# accepts the ones another issued.
LOGIN_CSRF_TTL = timedelta(hours=1)


def _login_mac(secret: str, body: str) -> str:
    key = hmac.new(secret.encode(), b"workspace login csrf", hashlib.sha256).digest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def login_csrf_token(secret: str, now: datetime | None = None) -> str:
    expires = int(((now or _now()) + LOGIN_CSRF_TTL).timestamp())
    body = f"{expires}.{secrets.token_urlsafe(18)}"
    return f"{body}.{_login_mac(secret, body)}"


def login_csrf_ok(
    secret: str, submitted: str | None, cookie: str | None, now: datetime | None = None
) -> bool:
    """The form's token is one this server signed, not expired, and the one this browser was
    given with the form (its ws_login cookie)."""
    if not submitted or not cookie:
        return False
    if not hmac.compare_digest(submitted.encode(), cookie.encode()):
        return False
    body, _, mac = submitted.rpartition(".")
    expires, _, nonce = body.partition(".")
    if not (expires.isascii() and expires.isdigit() and nonce and mac):
        return False
    if not hmac.compare_digest(mac.encode(), _login_mac(secret, body).encode()):
        return False
    return int(expires) > (now or _now()).timestamp()


# -- API tokens -----------------------------------------------------------------------------------
def create_token(db: Session, user: User, name: str = "") -> str:
    """The token in clear, shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(user_id=user.id, name=name.strip()[:100], token_hash=sha256(token)))
    db.flush()
    return token


def user_for_token(db: Session, token: str | None) -> User | None:
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    row = db.scalar(
        select(ApiToken).where(ApiToken.token_hash == sha256(token), ApiToken.revoked.is_(False))
    )
    if row is None or not row.user.active:
        return None
    row.last_used_at = _now()
    return row.user


# -- audit ----------------------------------------------------------------------------------------
def audit(
    db: Session, user: User | None, action: str, case_id: int | None = None, detail: str = ""
) -> None:
    db.add(
        AuditLog(
            user_id=user.id if user else None,
            username=user.username if user else "",
            action=action,
            case_id=case_id,
            detail=detail[:200],
            at=_now(),
        )
    )
