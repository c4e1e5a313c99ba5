#!/usr/bin/env bash
# Runs every test: unit, integration (real HTTP on loopback, SQLite and PostgreSQL),
# end-to-end against the real Rasa server, plus `rasa data validate` and `rasa test`
# (tests/e2e/test_rasa_cli.py). Setup has already run (make test depends on it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$(pwd)" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false RASA_TELEMETRY_ENABLED=false
export OPENBLAS_NUM_THREADS=1  # see tools/stack.py
# tests/browser drive Debian's Chromium through Playwright; install it once where missing
# (a clean CI machine). Without root or apt the browser tests skip, or fail under CI=true.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing Chromium for the browser tests" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -q chromium chromium-driver >/dev/null; } \
    || echo "==> could not install Chromium; the browser tests will say so" >&2
fi
# The checks first (seconds): lint and format, the import contracts of README's "Where things
# live" (pyproject.toml), and types of the core modules.
if [ $# -eq 0 ]; then
  echo "==> ruff check, ruff format --check, lint-imports, mypy" >&2
  .venv/bin/ruff check --quiet .
  .venv/bin/ruff format --check --quiet .
  .venv/bin/lint-imports --no-cache > var/log/lint-imports.log || { cat var/log/lint-imports.log; exit 1; }
  .venv/bin/mypy common langtools bot/core bot/storage bot/settings.py connectors gateway
fi
exec .venv/bin/python -m pytest "$@"
