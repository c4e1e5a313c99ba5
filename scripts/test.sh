#!/usr/bin/env bash
# Runs every test: unit, integration (real HTTP on loopback, SQLite and PostgreSQL),
# end-to-end against the real Rasa server, plus `rasa data validate` and `rasa test`
# (tests/e2e/test_rasa_cli.py). Setup has already run (make test depends on it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$(pwd)" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false RASA_TELEMETRY_ENABLED=false
export OPENBLAS_NUM_THREADS=1  # see bot/stack.py
exec .venv/bin/python -m pytest "$@"
