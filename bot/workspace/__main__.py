"""Workspace accounts from the command line (the first admin has no web page to use yet).

    python -m bot.workspace create-user NAME --role admin [--languages ar,en] [--topics ...]
                                            [--woman] [--password-stdin | --generate]
    python -m bot.workspace set-password NAME [--password-stdin | --generate]
    python -m bot.workspace create-token NAME [--label "our CRM"]

Uses DATABASE_URL (default: the local SQLite database) and migrates it first. Without
--password-stdin or --generate the password is asked for twice, without echo.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.referrals.models import ROLES, User
from bot.settings import get_settings
from bot.storage.db import engine_for, migrate
from bot.workspace import auth


def _password(args) -> tuple[str, bool]:
    if args.generate:
        return secrets.token_urlsafe(12), True
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    first = getpass.getpass("Password (at least 10 characters): ")
    if first != getpass.getpass("Again: "):
        sys.exit("The two passwords differ.")
    return first, False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.workspace",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("create-user", "set-password"):
        p = sub.add_parser(name)
        p.add_argument("username")
        how = p.add_mutually_exclusive_group()
        how.add_argument("--password-stdin", action="store_true")
        how.add_argument("--generate", action="store_true", help="print a random password")
        if name == "create-user":
            p.add_argument("--role", choices=ROLES, default="counsellor")
            p.add_argument("--languages", default="", help="language codes, e.g. ar,en")
            p.add_argument("--topics", default="", help="topics; empty covers every topic")
            p.add_argument("--woman", action="store_true")
            p.add_argument("--display-name", default="")
    p = sub.add_parser("create-token")
    p.add_argument("username")
    p.add_argument("--label", default="")
    args = parser.parse_args(argv)

    url = get_settings().database_url
    migrate(url)
    with Session(engine_for(url)) as db:
        if args.command == "create-token":
            user = db.scalar(select(User).where(User.username == args.username.lower()))
            if user is None:
                sys.exit(f"No account {args.username!r}.")
            print(auth.create_token(db, user, args.label))
            db.commit()
            return 0
        password, generated = _password(args)
        try:
            if args.command == "create-user":
                user = auth.create_user(
                    db,
                    args.username,
                    password,
                    role=args.role,
                    languages=args.languages,
                    topics=args.topics,
                    is_woman=args.woman,
                    display_name=args.display_name,
                )
            else:
                user = db.scalar(select(User).where(User.username == args.username.lower()))
                if user is None:
                    sys.exit(f"No account {args.username!r}.")
                user.password_hash = auth.hash_password(password)
        except ValueError as exc:
            sys.exit(str(exc))
        db.commit()
        print(f"{args.command}: {user.username} ({user.role})")
        if generated:
            print(f"password: {password}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
