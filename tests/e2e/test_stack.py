"""The thin slice end to end, through the real Rasa server and the real knowledge index:
greetings and knowledge questions in Arabic, Danish and English answered in the language of
the question, a first question answered at once, danger answered first, an idiom not taken
for danger, and a safe reply when the action server is down."""

from __future__ import annotations

import uuid

import httpx
import pytest

from common import texts
from knowledge.store import load
from tests.support.replies import emergency_message

pytestmark = pytest.mark.stack
KB = load()


def new_sender() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}"


def joined(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def test_health_is_200_with_every_component_ready(stack):
    r = httpx.get(f"{stack.gateway_url}/health", timeout=10)
    assert r.status_code == 200
    assert all(c["ok"] for c in r.json()["components"].values())


@pytest.mark.parametrize(
    "lang, greeting",
    [
        ("ar", "مرحبا"),
        ("da", "hej med dig"),
        ("en", "hello there"),
    ],
)
def test_greeting_is_answered_in_her_language(chat, lang, greeting):
    sender = new_sender()
    chat(sender, f'/choose_language{{"language": "{lang}"}}')
    replies = chat(sender, greeting)
    assert joined(replies) == texts.text("utter_greet", lang)


# Questions phrased independently of the entries' example questions.
QUESTIONS = [
    ("ar", "health-card-sundhedskort", "ما هي البطاقة الصحية الصفراء وكيف أحصل عليها؟"),
    ("ar", "violence-hotline-1888", "هل يوجد رقم هاتف أتصل به إذا كان زوجي عنيفا معي في البيت؟"),
    ("da", "health-card-sundhedskort", "hvad er det gule sygesikringskort og hvornår får jeg det"),
    ("da", "citizenship-test-about", "hvad er indfødsretsprøven og hvornår bliver den holdt"),
    ("en", "health-card-sundhedskort", "what is the yellow health card and when do I get it"),
    ("en", "citizenship-test-about", "what is the citizenship test and when is it held"),
]


def answer_following_clarification(chat, sender: str, question: str, entry_id: str) -> str:
    """The reply text, after pressing the right button when she is asked to choose."""
    replies = chat(sender, question)
    buttons = [b for r in replies for b in r.get("buttons") or []]
    chosen = [b for b in buttons if f'"entry_id": "{entry_id}"' in b["payload"]]
    if chosen:
        return joined(chat(sender, chosen[0]["payload"]))
    return joined(replies)


@pytest.mark.parametrize("lang, entry_id, question", QUESTIONS)
def test_knowledge_question_gets_the_right_answer_in_her_language(chat, lang, entry_id, question):
    text = answer_following_clarification(chat, new_sender(), question, entry_id)
    assert KB.render(entry_id, lang).text in text
    assert KB.entries[entry_id].sources[0].url.host in text


def test_first_message_that_is_a_question_is_answered_at_once(chat):
    replies = chat(new_sender(), "what is the citizenship test and when is it held")
    text = joined(replies)
    assert replies[0]["text"] == texts.text("utter_welcome", "en")
    assert KB.render("citizenship-test-about", "en").text in text


def test_danger_gets_emergency_numbers_in_the_first_reply(chat):
    replies = chat(new_sender(), "هو سيقتلني ساعدوني")
    assert replies[0]["text"] == emergency_message("ar")
    emergency = texts.text("utter_emergency", "ar")
    assert sum(emergency in r.get("text", "") for r in replies) == 1, "the numbers given once"


@pytest.mark.parametrize(
    "idiom", ["this exam is going to kill me haha", "я помираю від сміху з цього відео"]
)
def test_an_idiom_rasa_takes_for_danger_gets_no_emergency_text(stack, chat, idiom):
    # Rasa's intent classifier alone reads these as danger (it was never taught idioms);
    # the gateway's screen read them and found none, so the danger intent defers to it
    parsed = httpx.post(f"{stack.rasa_url}/model/parse", json={"text": idiom}, timeout=30)
    assert parsed.json()["intent"]["name"] == "danger", "the case this test is about"
    replies = chat(new_sender(), idiom)
    # the emergency reply in either message's language (112 may be in a knowledge answer)
    alarm = [
        texts.text(name, lang)
        for name in ("utter_danger_heard", "utter_emergency")
        for lang in ("en", "uk")
    ]
    assert not [a for a in alarm for r in replies if a in r.get("text", "")], joined(replies)
    assert replies, "she is still answered"


def test_action_server_down_gives_a_safe_reply_then_recovers(stack, chat):
    stack.stop("actions")
    try:
        replies = chat(new_sender(), "hvor kan jeg lære dansk")
        assert replies[-1]["text"] == texts.text("utter_service_down", "da")
    finally:
        stack.start_actions()
    stack.wait_healthy(timeout_s=120)
    sender = new_sender()
    chat(sender, "hi")
    assert KB.render("citizenship-test-about", "en").text in joined(
        chat(sender, "what is the citizenship test and when is it held")
    )


def test_she_can_change_language_in_her_own_words(chat):
    sender = new_sender()
    replies = chat(sender, "أريد اللغة الصومالية من فضلك")
    assert joined(replies) == texts.text("utter_language_changed", "so")
    assert joined(chat(sender, "hello")) == texts.text("utter_greet", "so")


def test_her_first_answer_ends_with_the_privacy_notice_in_her_language_once(stack):
    def send(sender, message):
        r = httpx.post(
            f"{stack.gateway_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=60,
        )
        assert r.status_code == 200
        return [m["text"] for m in r.json()]

    sender = new_sender()
    first = send(sender, "Мені потрібен лікар, де знайти сімейного лікаря?")
    assert first[-1] == texts.text("utter_privacy_notice", "uk", days="30")
    assert len(first) >= 2, "the notice follows an answer, never replaces it"
    later = send(sender, "А як отримати картку здоров'я?")
    assert texts.text("utter_privacy_notice", "uk", days="30") not in later
