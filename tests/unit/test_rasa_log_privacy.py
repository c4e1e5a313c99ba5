"""Her words never reach the Rasa server's log (nlu/rasa_patches.py): a message that times
out is logged at ERROR level by Rasa's REST channel with her text; the entry is kept, her
text is not. Runs in the Rasa environment (Python 3.10), as the server does."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"
SCRIPT = """
import logging
from rasa.utils.log_utils import configure_structlog
configure_structlog(logging.INFO)
from rasa.core.channels import rest
import nlu.components  # what loads the patches in the server
rest.structlogger.error("rest.message.received.timeout", text="my husband hits me")
"""


def test_rasa_logs_a_timeout_without_her_words():
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    out = done.stdout + done.stderr
    assert "my husband hits me" not in out
    [entry] = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert entry["event"] == "rest.message.received.timeout"
    assert entry["text"] == "(not logged)"
