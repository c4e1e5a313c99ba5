"""Helpers for reading the bot's replies in tests."""

from __future__ import annotations

import re

from common import texts
from common.vocab import LANGUAGES


def _notice_patterns() -> list[re.Pattern]:
    return [
        re.compile(
            re.escape(texts.text("utter_privacy_notice", lang, days="{days}")).replace(
                re.escape("{days}"), r"\d+"
            )
        )
        for lang in LANGUAGES
    ]


def is_privacy_notice(text: str) -> bool:
    return any(p.fullmatch(text) for p in _notice_patterns())


def without_privacy_notice(replies: list[dict]) -> list[dict]:
    """The replies without the privacy notice, which ends her first reply in a language
    (tests/integration/test_pipeline_robustness.py checks the notice itself). It must be
    the last item when present."""
    kept = [r for r in replies if not is_privacy_notice(r.get("text") or "")]
    if len(kept) < len(replies):
        assert is_privacy_notice(replies[-1].get("text") or ""), "the notice comes last"
    return kept


def emergency_message(language: str) -> str:
    """The one message a disclosure gets first: the calm sentence that she is heard, then
    112 and 1888 (bot/core/pipeline.py emergency_replies)."""
    return (
        texts.text("utter_danger_heard", language)
        + "\n\n"
        + texts.text("utter_emergency", language)
    )
