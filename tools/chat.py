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
    token = ""  # the outbox's secret for this sender, from the answer to the first message
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
            later: list[dict] = []
            if line:
                r = httpx.post(
                    endpoint,
                    params={"markup": "plain"},  # a terminal shows no italics
                    json={"sender": args.sender, "message": line},
                    timeout=30,
                )
                r.raise_for_status()
                token = r.headers.get("x-outbox-token", token)
                replies = r.json()
            else:
                replies = []
            if token:
                waiting = httpx.get(
                    outbox,
                    params={"sender": args.sender, "markup": "plain"},
                    headers={"x-outbox-token": token},
                    timeout=30,
                )
                waiting.raise_for_status()
                later = waiting.json()
        except httpx.HTTPError as exc:
            print(f"(could not reach the bot: {exc}; is `make run` running?)", file=sys.stderr)
            continue
        buttons = []
        for reply in replies + later:
            print(f"bot> {reply.get('text', '')}")
            for b in reply.get("buttons") or []:
                buttons.append(b)
                print(f"     [{len(buttons)}] {b['title']}")
        print()


if __name__ == "__main__":
    sys.exit(main())
