"""Chat with the running stack from a terminal, through the same REST channel apps use.

    make chat                       # or: .venv/bin/python -m tools.chat [--url URL] [--sender ID]

Type a message and press Enter. Buttons are numbered: type the number to press one.
Press Enter on an empty line to fetch messages that came later (a counsellor's reply).
Type /quit to leave.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys

import httpx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chat")
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")
    parser.add_argument("--sender", default=f"terminal-{secrets.token_hex(4)}")
    args = parser.parse_args(argv)
    endpoint = f"{args.url.rstrip('/')}/webhooks/rest/webhook"
    outbox = f"{args.url.rstrip('/')}/webhooks/rest/outbox"
    buttons: list[dict] = []
    print(f"Talking to {args.url} as {args.sender}. Type /quit to leave.\n")
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if line == "/quit":
            return 0
        if line.isdigit() and 1 <= int(line) <= len(buttons):
            line = buttons[int(line) - 1]["payload"]
        try:
            r = (
                httpx.post(endpoint, json={"sender": args.sender, "message": line}, timeout=30)
                if line
                else httpx.get(outbox, params={"sender": args.sender}, timeout=30)
            )
            r.raise_for_status()
            later = httpx.get(outbox, params={"sender": args.sender}, timeout=30).json()
        except httpx.HTTPError as exc:
            print(f"(could not reach the bot: {exc}; is `make run` running?)", file=sys.stderr)
            continue
        buttons = []
        for reply in r.json() + later:
            print(f"bot> {reply.get('text', '')}")
            for b in reply.get("buttons") or []:
                buttons.append(b)
                print(f"     [{len(buttons)}] {b['title']}")
        print()


if __name__ == "__main__":
    sys.exit(main())
