"""Starts the action server: rasa-sdk's HTTP app with this project's actions (actions/).

    python -m actions.server [--port 5055]

rasa-sdk's own runner (`python -m rasa_sdk`) starts Sanic's multi-process manager, which
clashes with torch having fixed multiprocessing's start method and would load the embedding
model again in a worker. One process serves the action server's load (retrieval is CPU-bound
on the same cores), so this runs rasa-sdk's app single-process, on loopback by default.
"""

from __future__ import annotations

import os

# Before numpy loads: its BLAS threads would fight torch's over the cores (bench/README.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import logging  # noqa: E402
from functools import lru_cache  # noqa: E402

import yaml  # noqa: E402
from rasa_sdk.endpoint import create_app  # noqa: E402
from rasa_sdk.executor import ActionExecutor  # noqa: E402

from common.texts import DOMAIN  # noqa: E402


class LocalDomainExecutor(ActionExecutor):
    """With `enable_selective_domain` (endpoints.yml) Rasa 3.6 sends neither the domain nor
    the digest rasa-sdk 3.21 expects from Rasa Pro, and rasa-sdk would refuse the call. Our
    actions read their texts from domain.yml (common/texts.py), so that is the domain served."""

    def update_and_return_domain(self, payload, action_name):
        if payload.get("domain") is None and payload.get("domain_digest") is None:
            return _domain()
        return super().update_and_return_domain(payload, action_name)


@lru_cache(maxsize=1)
def _domain() -> dict:
    return yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m actions.server")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default=os.environ.get("SANIC_HOST", "127.0.0.1"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    executor = LocalDomainExecutor()
    executor.register_package("actions")
    app = create_app(executor)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
