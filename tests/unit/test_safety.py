"""The danger screen catches danger in every first language, and its patterns raise no false
alarms (a Norwegian bot once sent "mow the lawn" to the violence shelter). The second layer's
own alarms on these near-misses are counted in knowledge/calibration.md and bounded here."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.core import danger_model, safety
from bot.core.safety import normalise, screen, screen_patterns
from langtools.langid import SUPPORTED

CASES = yaml.safe_load(
    (Path(__file__).parent.parent / "data" / "safety_cases.yml").read_text(encoding="utf-8")
)


def cases(kind):
    return [(lang, text) for lang, texts in CASES[kind].items() for text in texts]


def test_cases_cover_every_first_language():
    for kind in ("danger", "safe"):
        assert set(CASES[kind]) >= set(SUPPORTED), kind
        assert all(len(CASES[kind][lang]) >= 8 for lang in SUPPORTED), kind


@pytest.mark.parametrize("lang, text", cases("danger") + cases("danger_alone"))
def test_danger_is_caught(lang, text):
    assert screen(text).danger, f"{lang}: {text}"


@pytest.mark.parametrize("lang, text", cases("safe"))
def test_no_false_alarm_from_the_patterns(lang, text):
    result = screen_patterns(text)
    assert not result.danger, f"{lang}: {text!r} matched {result.language}: {result.pattern}"


@pytest.mark.parametrize("lang, text", cases("idiom"))
def test_a_listed_idiom_is_calm_though_a_pattern_matches_it(lang, text):
    norm = normalise(text)
    matched = [p.pattern for _, p in safety._patterns() if p.search(norm)]
    assert matched, f"{lang}: {text!r} matches no pattern: it belongs under safe"
    result = screen_patterns(text)
    assert not result.danger, f"{lang}: {text!r} alarmed by {result.pattern}"
    assert result.pattern == "idiom"


def test_the_model_adds_few_alarms_on_near_misses():
    assert danger_model.model() is not None, "setup builds the danger model"
    alarms = [text for _, text in cases("safe") if screen(text).danger]
    assert len(alarms) <= 0.03 * len(cases("safe")), alarms


def test_normalisation_ignores_case_diacritics_and_spacing():
    assert normalise("  HE  Will KILL me ") == "he will kill me"
    assert normalise("سَيَقْتُلُنِي") == "سيقتلني"


def test_the_model_reads_only_the_start_of_a_huge_message_and_patterns_read_it_all(monkeypatch):
    seen: list[int] = []

    class Recorder:
        def encode(self, texts):
            return np.zeros((len(texts), 384), np.float32)

        def judge(self, text, vector=None):
            seen.append(len(text))
            return danger_model.Judgement(0.0, "danger")

    monkeypatch.setattr(danger_model, "model", lambda: Recorder())
    huge = "I have a question about the health card. " * 3000 + "he is going to kill me"
    assert safety.screen(huge).danger, "a threat at the very end is still found"
    assert seen == [safety.MODEL_CHARS]
