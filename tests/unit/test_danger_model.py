"""The danger screen's second layer (bot/core/danger_model.py), built by setup from the curated
examples: danger phrased with no listed word is caught, ordinary questions are not, and the
layers combine as bot/core/safety.py says: a pattern's match always stands, the model alone
alarms above its threshold, short messages and a missing model leave it to the patterns.
These messages were written for this test, not taken from the blind sets."""

from __future__ import annotations

import pytest

from bot.core import danger_model, safety
from bot.core.danger_model import Judgement


@pytest.fixture(scope="module")
def model():
    built = danger_model.model()
    assert built is not None, "setup builds var/danger/model.npz (scripts/setup.sh step 5)"
    return built


@pytest.mark.parametrize(
    "text",
    [
        "he took my passport and my phone and says I will never see the kids again",
        "I cannot go back home tonight, I am afraid of what he does",
        "jeg tør ikke tage hjem i aften",
    ],
)
def test_danger_without_a_listed_word_is_caught(model, text):
    assert not safety.screen_patterns(text).danger, "the patterns alone miss it"
    assert safety.screen(text).danger


@pytest.mark.parametrize(
    "text",
    ["how much does the citizenship test cost", "hvor får jeg et sundhedskort", "hi"],
)
def test_ordinary_questions_are_calm(model, text):
    assert not safety.screen(text).danger


def test_acute_need_without_violence_is_told_apart(model):
    found = safety.screen("I need a shelter tonight with my 2 kids, we have nowhere to sleep")
    assert found.danger and found.kind == "acute"


class _Fixed:
    def __init__(self, probability: float, kind: str = "danger"):
        self.judgement = Judgement(probability, kind)

    def judge(self, text: str) -> Judgement:
        return self.judgement


def test_a_pattern_match_stands_even_when_the_model_calls_it_calm(monkeypatch):
    # The veto is off (VETO = 0): on the dev cases it took back real disclosures.
    text = "he is going to kill me"
    assert safety.screen_patterns(text).danger
    monkeypatch.setattr(danger_model, "model", lambda: _Fixed(0.0))
    assert safety.screen(text).danger


def test_a_short_message_is_left_to_the_patterns(monkeypatch):
    monkeypatch.setattr(danger_model, "model", lambda: _Fixed(1.0))
    assert not safety.screen("hello there").danger
    assert safety.screen("hello there, please come now").danger


def test_the_model_alone_alarms_above_its_threshold(monkeypatch):
    text = "please come quickly"
    monkeypatch.setattr(danger_model, "model", lambda: _Fixed(danger_model.ALARM, "acute"))
    assert safety.screen(text).kind == "acute" and safety.screen(text).danger
    monkeypatch.setattr(danger_model, "model", lambda: _Fixed(danger_model.ALARM - 0.01))
    assert not safety.screen(text).danger


def test_without_a_model_the_patterns_still_screen(monkeypatch):
    monkeypatch.setattr(danger_model, "model", lambda: None)
    assert safety.screen("he is going to kill me").danger
    assert not safety.screen("please come quickly").danger
