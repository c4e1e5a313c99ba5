"""The dialogue flows through the REST channel of the real stack (gateway, Rasa, action server,
referral queue), in Arabic, Somali, Ukrainian, Turkish and Danish: asking for a person (form,
confirmation, the gateway's honest "what happens next"), declining at the confirmation, danger
in the middle of the request, the region question, and "was this helpful?"."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import create_engine, func, select

from bot.referrals import Case
from common import texts
from tests.support.replies import emergency_message

pytestmark = pytest.mark.stack

LANGS = ["ar", "so", "uk", "tr", "da"]

# What she might type to ask for a person, and a message the danger screen must catch.
ASK_PERSON = {
    "ar": "بدي احكي مع انسان حقيقي",
    "so": "qof dhab ah ayaan rabaa inaan la hadlo",
    "uk": "можна поговорити з живою людиною",
    "tr": "bir danışmanla konuşmak istiyorum",
    "da": "kan jeg skrive med et rigtigt menneske",
}
DANGER = {
    "ar": "زوجي يضربني",
    "so": "ninkaygu wuu i garaacayaa",
    "uk": "чоловік мене б'є",
    "tr": "kocam beni dövüyor",
    "da": "min mand slår mig",
}


def new_sender() -> str:
    return f"dlg-{uuid.uuid4().hex[:8]}"


def joined(replies: list[dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def payloads(replies: list[dict]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


def template_parts(name: str, lang: str) -> list[str]:
    """The fixed parts of a response with {placeholders}, to find it with any figures."""
    return [p.strip() for p in re.split(r"\{\w+\}", texts.text(name, lang)) if p.strip()]


def is_response(text: str, name: str, lang: str) -> bool:
    return all(part in text for part in template_parts(name, lang))


def start(chat, lang: str) -> str:
    sender = new_sender()
    chat(sender, f'/choose_language{{"language": "{lang}"}}')
    return sender


def ask_for_a_person(chat, sender: str, lang: str) -> None:
    replies = chat(sender, ASK_PERSON[lang])
    assert joined(replies) == texts.text("utter_ask_handoff_topic", lang)
    assert '/request_human{"topic": "violence"}' in payloads(replies)


@pytest.mark.parametrize("lang", LANGS)
def test_asking_for_a_person_creates_a_request_and_says_what_happens_next(chat, lang):
    sender = start(chat, lang)
    ask_for_a_person(chat, sender, lang)
    replies = chat(sender, '/request_human{"topic": "health"}')
    assert joined(replies) == texts.text("utter_ask_handoff_woman", lang)
    assert joined(chat(sender, "/affirm")) == texts.text("utter_ask_handoff_contact", lang)
    assert joined(chat(sender, "/affirm")) == texts.text("utter_ask_handoff_confirm", lang)

    text = joined(chat(sender, "/affirm"))
    assert (
        is_response(text, "utter_handoff_queued", lang)
        or is_response(text, "utter_handoff_nobody", lang)
        or is_response(text, "utter_handoff_closed", lang)
    ), text
    assert "{" not in text, "placeholders are filled in"

    # Asking again while her request waits does not make a second one.
    ask_for_a_person(chat, sender, lang)
    chat(sender, '/request_human{"topic": "health"}')
    chat(sender, "/deny")
    chat(sender, "/deny")
    assert joined(chat(sender, "/affirm")) == texts.text("utter_handoff_already", lang)


def newest_case_topic(stack) -> str:
    engine = create_engine(stack.database_url)
    with engine.connect() as conn:
        newest = select(func.max(Case.id)).where(Case.channel == "rest").scalar_subquery()
        topic = conn.execute(select(Case.topic).where(Case.id == newest)).scalar_one()
    engine.dispose()
    return topic


@pytest.mark.parametrize(
    "lang, words, topic",
    [
        ("uk", "про мій дозвіл на проживання", "residence"),
        ("ar", "عن الإقامة تبعي بالدنمارك", "residence"),
        ("tr", "hamileliğim ve doğum hakkında", "health"),
        ("da", "om danskuddannelse og sprogskole", "danish"),
        ("so", "caafimaadka iyo dhakhtarka qoyska", "health"),
    ],
)
def test_a_topic_typed_in_words_is_understood(chat, stack, lang, words, topic):
    """At the topic question she writes her topic instead of pressing a button: the form takes
    it and goes on, and the counsellor sees that topic on the case."""
    sender = start(chat, lang)
    ask_for_a_person(chat, sender, lang)
    replies = chat(sender, words)
    assert joined(replies) == texts.text("utter_ask_handoff_woman", lang)
    chat(sender, "/deny")
    chat(sender, "/deny")
    text = joined(chat(sender, "/affirm"))
    assert not is_response(text, "utter_handoff_cancelled", lang), text
    assert newest_case_topic(stack) == topic


@pytest.mark.parametrize("lang", LANGS)
def test_no_at_the_confirmation_creates_nothing(chat, lang):
    sender = start(chat, lang)
    ask_for_a_person(chat, sender, lang)
    chat(sender, '/request_human{"topic": "residence"}')
    chat(sender, "/deny")
    chat(sender, "/deny")
    assert joined(chat(sender, "/deny")) == texts.text("utter_handoff_cancelled", lang)
    # Nothing was created: a new request is a new one, not "already asked".
    ask_for_a_person(chat, sender, lang)
    chat(sender, '/request_human{"topic": "residence"}')
    chat(sender, "/deny")
    chat(sender, "/deny")
    text = joined(chat(sender, "/affirm"))
    assert not is_response(text, "utter_handoff_already", lang)


@pytest.mark.parametrize("lang", LANGS)
def test_danger_during_the_request_gets_the_numbers_first_and_the_request_goes_on(chat, lang):
    sender = start(chat, lang)
    ask_for_a_person(chat, sender, lang)
    chat(sender, '/request_human{"topic": "violence"}')
    replies = chat(sender, DANGER[lang])
    assert replies[0]["text"] == emergency_message(lang)
    assert sum("112" in (r.get("text") or "") for r in replies) == 1
    assert replies[-1]["text"] == texts.text("utter_ask_handoff_woman", lang)


@pytest.mark.parametrize(
    "lang, question, town",
    [
        ("da", "hvor kan jeg lære dansk som kvinde", "jeg bor i Roskilde"),
        ("ar", "وين فيني اتعلم دنماركي للنساء", "بسكن بأودنسه"),
        ("so", "xaggee baan ka baran karaa af deenish haweenka", "Aarhus"),
        ("uk", "курси данської мови для жінок де", "я живу в Оденсе"),
        ("tr", "kadınlar için danca kursu nerede", "Aalborg'da oturuyorum"),
    ],
)
def test_a_regional_answer_asks_her_town_once(chat, lang, question, town):
    sender = start(chat, lang)
    replies = chat(sender, question)
    assert joined(replies).endswith(texts.text("utter_ask_region_answer", lang))
    answer = joined(chat(sender, town))
    assert texts.text("utter_ask_region_answer", lang) not in answer
    assert texts.text("utter_region_unknown", lang) not in answer, "her town was recognised"
    assert "Kringlebakken" not in answer, "no Copenhagen course for a woman outside it"
    again = joined(chat(sender, question))
    assert texts.text("utter_ask_region_answer", lang) not in again, "asked once only"


@pytest.mark.parametrize(
    "lang, question",
    [
        ("da", "hvad koster indfødsretsprøven"),
        ("ar", "كم سعر امتحان الجنسية"),
        ("so", "imtixaanka dhalashada immisa ayuu kacayaa"),
        ("uk", "скільки коштує іспит на громадянство"),
        ("tr", "vatandaşlık sınavı ne kadar"),
    ],
)
def test_not_helpful_is_heard_and_a_person_offered(chat, lang, question):
    sender = start(chat, lang)
    replies = chat(sender, question)
    buttons = payloads(replies)
    chosen = [p for p in buttons if p.startswith("/ask_question")]
    if chosen:  # she was asked to choose: she takes the first
        replies = chat(sender, chosen[0])
    assert "/feedback_negative" in payloads(replies)
    replies = chat(sender, "/feedback_negative")
    assert joined(replies) == texts.text("utter_feedback_sorry", lang) + "\n" + texts.text(
        "utter_offer_counsellor", lang
    )
    assert "/request_human" in payloads(replies)
    assert joined(chat(sender, "/feedback_positive")) == texts.text("utter_feedback_thanks", lang)


# Dari (prs) is written like Farsi, so detection alone would answer her in Farsi: she chooses
# Dari with the menu's button, and a question in Dari words gets the entry's Dari text.
DARI_QUESTION = ("interpreter-free-first-3-years", "برای داکتر ترجمان رایگان است؟")


def test_a_woman_who_chooses_dari_gets_dari_answers(chat):
    from knowledge.store import load

    kb = load()
    sender = new_sender()
    replies = chat(sender, '/choose_language{"language": "prs"}')
    assert texts.text("utter_language_changed", "prs") in joined(replies)

    entry_id, question = DARI_QUESTION
    replies = chat(sender, question)
    chosen = [p for p in payloads(replies) if f'"entry_id": "{entry_id}"' in p]
    if chosen:  # she was asked to choose: she takes the right one
        replies = chat(sender, chosen[0])
    text = joined(replies)
    assert kb.render(entry_id, "prs").text in text
    assert kb.render(entry_id, "fa").text not in text, "answered in Farsi"
    assert texts.text("utter_machine_translation_notice", "prs") in text
    assert texts.text("utter_ask_feedback", "prs") in text
    assert joined(chat(sender, "/feedback_positive")) == texts.text("utter_feedback_thanks", "prs")
