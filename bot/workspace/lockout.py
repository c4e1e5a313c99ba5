"""The login lock, shared by every gateway process through the `login_failures` table.

A failed login is recorded under a keyed hash of the username and of the client address.
Within `WINDOW`, a login is refused (429) before its password is checked when there were
`PAIR_LIMIT` failures for this username from this address (someone guessing her password),
`USER_LIMIT` for this username from anywhere (guessing from many addresses), or
`ADDRESS_LIMIT` from this address for any usernames (spraying one password over many
names). The client address is what the server saw, or X-Forwarded-For from a proxy in
TRUSTED_PROXIES only (gateway/app.py), so a made-up header cannot reset the count.

Two processes may both let an attempt through at the same instant; the lock then closes one
attempt later, which is harmless.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.referrals.models import LoginFailure

WINDOW = timedelta(minutes=15)
PAIR_LIMIT, USER_LIMIT, ADDRESS_LIMIT = 5, 10, 10


@dataclass(frozen=True)
class Keys:
    user: str
    address: str


def keys(secret: str, username: str, address: str) -> Keys:
    """Keyed hashes: a copy of the table says neither who tried nor from where."""

    def mac(kind: str, value: str) -> str:
        return hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    return Keys(mac("login-user", username.strip().lower()), mac("login-address", address))


def locked(db: Session, who: Keys, now: datetime) -> bool:
    since = now - WINDOW

    def count(*where) -> int:
        query = select(func.count()).select_from(LoginFailure)
        return db.scalar(query.where(LoginFailure.at > since, *where)) or 0

    return (
        count(LoginFailure.user_key == who.user, LoginFailure.address_key == who.address)
        >= PAIR_LIMIT
        or count(LoginFailure.user_key == who.user) >= USER_LIMIT
        or count(LoginFailure.address_key == who.address) >= ADDRESS_LIMIT
    )


def record_failure(db: Session, who: Keys, now: datetime) -> None:
    db.execute(delete(LoginFailure).where(LoginFailure.at <= now - WINDOW))
    db.add(LoginFailure(user_key=who.user, address_key=who.address, at=now))


def forget_pair(db: Session, who: Keys) -> None:
    """After her successful login: her own typos from here no longer count. The counts per
    username and per address stay, so logging in to one's own account does not reset a
    spray from the same address."""
    db.execute(
        delete(LoginFailure).where(
            LoginFailure.user_key == who.user, LoginFailure.address_key == who.address
        )
    )
