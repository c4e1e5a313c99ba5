"""The trained NLU model, through the real Rasa server's /model/parse: messages it has never
seen are understood in every first language, and a doubtful word goes to retrieval instead of
being taken for "yes" or "thanks". The per-language figures come from `make nlu-report`; this
is the guard that a change to the pipeline or the data did not break understanding."""

from __future__ import annotations

import httpx
import pytest

from tools.nlu_data import hand_written

pytestmark = pytest.mark.stack

# Written for this test, not copied into the training data (checked below).
UNSEEN = [
    ("ar", "مرحبا يا صبايا", "greet"),
    ("ar", "بدي احكي مع موظفة من المركز", "request_human"),
    ("ar", "امسحي كل الرسايل يلي بعتلك ياها", "delete_data"),
    ("da", "godmorgen til jer alle", "greet"),
    ("da", "jeg vil gerne snakke med en rådgiver", "request_human"),
    ("da", "slet alt hvad jeg har skrevet til dig", "delete_data"),
    ("en", "hello dear friend", "greet"),
    ("en", "please delete everything i wrote here", "delete_data"),
    ("en", "tell me a funny story about cats", "out_of_scope"),
    ("so", "mahadsanid walaal aad iyo aad", "thanks"),
    ("so", "waxaan rabaa inaan la hadlo qof shaqaale ah", "request_human"),
    ("tr", "selam kızlar nasılsınız", "greet"),
    ("tr", "gerçek bir insanla konuşmak istiyorum lütfen", "request_human"),
    ("tr", "yazdığım her şeyi silin", "delete_data"),
    ("uk", "вітаю вас усіх", "greet"),
    ("uk", "видаліть усі мої повідомлення будь ласка", "delete_data"),
    ("uk", "хочу поговорити з консультантом", "request_human"),
    ("fa", "میخوام با یه مشاور حرف بزنم", "request_human"),
    ("fa", "سلام خانم جان", "greet"),
    ("ur", "السلام علیکم بہن جی", "greet"),
    ("ur", "kisi insaan se baat karwa dein", "request_human"),
    ("ti", "ሰላም ኣሓተይ ከመይ ኣለኽን", "greet"),
]
# One word, the Somali for "interpreter" as she might spell it: the model is unsure of it.
DOUBTFUL = "tarjumaan"
NOT_FOR_A_QUESTION = {
    "affirm",
    "deny",
    "thanks",
    "goodbye",
    "greet",
    "feedback_positive",
    "feedback_negative",
    "delete_data",
    "out_of_scope",
}


def training_texts() -> set[str]:
    return {text.casefold() for _, _, text in hand_written()}


def parse(stack, text: str) -> str:
    r = httpx.post(f"{stack.rasa_url}/model/parse", json={"text": text}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["intent"]["name"]


def test_the_unseen_messages_are_really_unseen():
    seen = training_texts()
    assert [t for _, t, _ in UNSEEN if t.casefold() in seen] == []
    assert DOUBTFUL not in seen


def test_unseen_messages_are_understood_in_every_language(stack):
    wrong = [
        (lang, text, intent, got)
        for lang, text, intent in UNSEEN
        if (got := parse(stack, text)) != intent
    ]
    assert {lang for lang, _, _ in UNSEEN} == {"ar", "da", "en", "so", "tr", "uk", "fa", "ur", "ti"}
    # Cross-validation puts accuracy at 0.85-0.97 per language: allow two misses in 22.
    assert len(wrong) <= 2, wrong


def test_a_doubtful_word_goes_to_retrieval_not_to_yes_or_thanks(stack):
    assert parse(stack, DOUBTFUL) not in NOT_FOR_A_QUESTION
