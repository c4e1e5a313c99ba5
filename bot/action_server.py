"""Starts the action server: rasa-sdk's HTTP app with this project's actions (bot/actions/).

    python -m bot.action_server [--port 5055]

rasa-sdk's own runner (`python -m rasa_sdk`) starts Sanic's multi-process manager, which
clashes with torch having fixed multiprocessing's start method and would load the embedding
model again in a worker. One process serves the action server's load (retrieval is CPU-bound
on the same cores), so this runs rasa-sdk's app single-process, on loopback by default.
"""

from __future__ import annotations

import argparse
import logging
import os

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.action_server")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default=os.environ.get("SANIC_HOST", "127.0.0.1"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    executor = ActionExecutor()
    executor.register_package("bot.actions")
    app = create_app(executor)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
