"""The danger screen's second layer (bot/core/danger_model.py), built by setup from the curated
examples: danger phrased with no listed word is caught, ordinary questions are not, and the
layers combine as bot/core/safety.py says: a pattern's match always stands, the model alone
alarms above its threshold, short messages and a missing model leave it to the patterns.
These messages were written for this test, not taken from the blind sets."""

from __future__ import annotations

import numpy as np
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

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts), 384), np.float32)

    def judge(self, text: str, vector=None) -> Judgement:
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


def test_only_a_message_the_model_read_is_judged_calm(monkeypatch):
    # "judged" tells Rasa's own danger intent to defer (nlu/components.py DangerOverride):
    # only for a message both layers read, never for one too short for the model
    monkeypatch.setattr(danger_model, "model", lambda: _Fixed(0.1))
    assert safety.screen("where do I get a health card please").judged
    assert not safety.screen("help me").judged
    monkeypatch.setattr(danger_model, "model", lambda: None)
    assert not safety.screen("where do I get a health card please").judged


@pytest.mark.parametrize(
    "text",
    [
        "howa jay 3al bet hala2 w ma3o sekkin",  # Arabizi: he is coming home now with a knife
        "woh ghar aa raha hai abhi chaku le ke",  # Roman Urdu: the same
        "dare miad khoone alan chaghoo dare",  # Finglish: the same
    ],
)
def test_danger_in_latin_letters_is_caught(model, text):
    # The embedding alone reads these as calm (its part of the score is below 0 for the first
    # two); the character n-grams carry the spelling ("sekkin", "chaku", "chaghoo")
    assert not safety.screen_patterns(text).danger, "the patterns alone miss it"
    assert safety.screen(text).danger


def test_without_a_model_the_patterns_still_screen(monkeypatch):
    monkeypatch.setattr(danger_model, "model", lambda: None)
    assert safety.screen("he is going to kill me").danger
    assert not safety.screen("please come quickly").danger
