"""Rasa's own checks, run with the project's Rasa environment: the training data and domain
are consistent, and the test stories (tests/stories/) pass with the trained model."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml

from tools.stack import RASA, REPO

pytestmark = pytest.mark.stack


def rasa(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        RASA_TELEMETRY_ENABLED="false",
        ACTION_ENDPOINT_URL="http://127.0.0.1:9/webhook",
    )
    return subprocess.run(
        [str(RASA), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def _used_in_code() -> set[str]:
    """Responses the action server and gateway send by name (so no rule mentions them)."""
    names = set()
    code = ("bot", "actions", "connectors", "gateway", "common")
    for path in (p for folder in code for p in (REPO / folder).rglob("*.py")):
        names |= set(re.findall(r"utter_[a-z_]+", path.read_text(encoding="utf-8")))
    return names


def _asked_by_forms() -> set[str]:
    """utter_ask_<slot>: a form asks its required slots with these (no rule names them)."""
    domain = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))
    return {
        f"utter_ask_{slot}"
        for form in (domain.get("forms") or {}).values()
        for slot in form["required_slots"]
    }


# Sent by the gateway with the referral queue's figures (bot/core/pipeline.py), and Rasa's own
# fallback text; listed here so they stay even while the code that sends them changes.
RESERVED = {
    "utter_handoff_queued",
    "utter_handoff_closed",
    "utter_handoff_already",
    "utter_handoff_resolved",
    "utter_handoff_transferred",
    "utter_handoff_unavailable",
    "utter_default",
}


def test_rasa_data_validate():
    r = rasa(
        "data", "validate", "--data", "data", "--domain", "domain.yml", "--config", "config.yml"
    )
    output = r.stdout + r.stderr
    assert r.returncode == 0, output[-4000:]
    warnings = re.findall(r"UserWarning: (.+)", output)
    used = _used_in_code() | _asked_by_forms() | RESERVED
    unexpected = [
        w
        for w in warnings
        if not (m := re.match(r"The utterance '(utter_\w+)' is not used in any story", w))
        or m.group(1) not in used
    ]
    assert unexpected == [], unexpected


def test_rasa_test_stories_pass(tmp_path):
    r = rasa(
        "test",
        "core",
        "--stories",
        "tests/stories",
        "--model",
        "models",
        "--endpoints",
        "endpoints.yml",
        "--out",
        str(tmp_path),
        "--fail-on-prediction-errors",
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
