"""A woman's conversation on each platform, through the real stack (Rasa, the action server
with the real knowledge index, the gateway and its delivery worker), with fake platform APIs
on loopback that speak Telegram's and WhatsApp's wire formats.

Somali on Telegram and Arabic on WhatsApp: a vague question gets clarification buttons in
her language, a press gets the answer from the knowledge base, and asking for a person walks
through the handoff questions (data/rules/handoff.yml: topic, woman counsellor, contact later,
confirmation), one fixed path with each question's exact text and buttons, to a referral case
in the queue.

After each message the test waits until the gateway's delivery worker has sent everything
(tests/support/delivery.py) and then takes what arrived in the fake chat: exactly that
message's replies, with no fixed sleep and no "quiet period".
"""

from __future__ import annotations

import html
import re

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from bot.core import markup
from bot.referrals import NORMAL, Case
from bot.referrals.models import OpeningHours, UserSession
from common import texts
from knowledge.store import load
from tests.e2e.conftest import TELEGRAM_SECRET
from tests.support.delivery import wait_until_delivered
from tests.support.replies import is_privacy_notice

pytestmark = pytest.mark.stack
KB = load()

# The one path through handoff_form both tests take: (question she is asked, the button she
# presses). Health, with a woman, no message later (someone may read her phone), confirmed.
HANDOFF_PATH = [
    ("utter_ask_handoff_topic", '/request_human{"topic": "health"}'),
    ("utter_ask_handoff_woman", "/affirm"),
    ("utter_ask_handoff_contact", "/deny"),
    ("utter_ask_handoff_confirm", "/affirm"),
]
# The case that path must open, after her language: (status, topic, woman_counsellor,
# contact_later, priority).
HANDOFF_CASE = ("waiting", "health", True, False, NORMAL)


def delivered_since(stack, channel: str, read, before: int) -> list:
    """What arrived in the chat since `before`, once the delivery worker has sent all of it.
    Called after the webhook answered, when the replies to her message are already queued."""
    wait_until_delivered(stack.database_url, channels=[channel], timeout=60)
    return [m for m in read()[before:] if not is_privacy_notice(_platform_text(m))]


def _platform_text(message: dict) -> str:
    """The text of a message as the fake platform recorded it (Telegram: HTML-escaped)."""
    text = message.get("text")
    if isinstance(text, dict):  # WhatsApp text message
        return text.get("body", "")
    if isinstance(text, str):
        return html.unescape(text)
    body = (message.get("interactive") or {}).get("body") or {}
    return body.get("text", "")


def query(stack, statement) -> list:
    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(statement).all()
    finally:
        engine.dispose()


def cases_for(stack, channel: str) -> list[tuple]:
    return [
        tuple(row)
        for row in query(
            stack,
            select(
                Case.language,
                Case.status,
                Case.topic,
                Case.woman_counsellor,
                Case.contact_later,
                Case.priority,
            ).where(Case.channel == channel),
        )
    ]


def handoff_outcome(stack) -> str:
    """The gateway's answer to a confirmed request in this stack: its database is fresh, so no
    opening hours are set (always open) and no counsellor is logged in: "nobody is free
    right now, but your request is saved" (bot/core/pipeline.py _refer)."""
    [(hours,)] = query(stack, select(func.count()).select_from(OpeningHours))
    [(on_duty,)] = query(stack, select(func.count()).select_from(UserSession))
    assert (hours, on_duty) == (0, 0), "the e2e stack's database was expected to be fresh"
    return "utter_handoff_nobody"


def button_index(name: str, language: str, payload: str) -> int:
    payloads = [b["payload"] for b in texts.response(name, language)["buttons"]]
    return payloads.index(payload)


# -- Telegram, in Somali -----------------------------------------------------------------------
class TelegramChat:
    def __init__(self, stack, telegram, chat_id: int):
        self.stack, self.tg, self.chat_id = stack, telegram, chat_id

    def messages(self) -> list[dict]:
        return self.tg.chat(self.chat_id)

    def _post(self, update: dict) -> list[dict]:
        before = len(self.messages())
        r = httpx.post(
            f"{self.stack.gateway_url}/webhooks/telegram",
            json=update,
            timeout=60,
            headers={"x-telegram-bot-api-secret-token": TELEGRAM_SECRET},
        )
        assert r.status_code == 200, r.text
        return delivered_since(self.stack, "telegram", self.messages, before)

    def write(self, text: str) -> list[dict]:
        return self._post(self.tg.text_update(self.chat_id, text))

    def press(self, message: dict, index: int) -> list[dict]:
        data = message["reply_markup"]["inline_keyboard"][index][0]["callback_data"]
        return self._post(self.tg.callback_update(self.chat_id, data, message["message_id"]))


def with_buttons(messages: list[dict]) -> dict:
    marked = [m for m in messages if m.get("reply_markup")]
    assert marked, f"expected buttons in {[m['text'][:60] for m in messages]}"
    return marked[-1]


def telegram_texts(messages: list[dict]) -> list[str]:
    return [html.unescape(m["text"]) for m in messages]  # sent with parse_mode HTML


def telegram_question(replies: list[dict], name: str, language: str) -> dict:
    """The one message asking `name`, with that response's buttons, one per row."""
    want = texts.response(name, language)
    assert telegram_texts(replies) == [want["text"]], name
    [message] = replies
    keyboard = message["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in keyboard] == [
        [b["title"]] for b in want["buttons"]
    ], name
    return message


def test_somali_on_telegram_clarification_answer_and_handoff(stack, platforms):
    chat = TelegramChat(stack, platforms[0], chat_id=5520001)

    menu = with_buttons(chat.write("/start"))
    titles = [row[0]["text"] for row in menu["reply_markup"]["inline_keyboard"]]
    chat.press(menu, titles.index("Soomaali"))

    replies = chat.write("tarjumaan")  # "interpreter": three entries could be meant
    if replies[-1]["text"] == texts.text("utter_ask_region_answer", "so"):
        replies = chat.write("Aarhus")  # the answer depends on her region: she says where
    clarify = with_buttons(replies)
    assert clarify["text"] == texts.text("utter_clarify", "so")
    keyboard = clarify["reply_markup"]["inline_keyboard"]
    assert 2 <= len(keyboard) <= 3

    answer = chat.press(clarify, 0)
    # Telegram shows the Danish terms in italics: compare the words, not the marks
    body = html.unescape(re.sub(r"</?[ib]>", "", "\n".join(m["text"] for m in answer)))
    titles = [row[0]["text"] for row in keyboard]
    entry = next(e for e in KB.entries if KB.render(e, "so").title == titles[0])
    assert markup.strip(KB.render(entry, "so").text).split("\n")[0][:40] in body
    assert texts.text("utter_answer_source", "so").split("{")[0] in body

    replies = chat.write("/human")
    for name, payload in HANDOFF_PATH:
        question = telegram_question(replies, name, "so")
        replies = chat.press(question, button_index(name, "so", payload))
    assert telegram_texts(replies) == [texts.text(handoff_outcome(stack), "so")]
    assert replies[0]["reply_markup"] is None
    assert cases_for(stack, "telegram") == [("so", *HANDOFF_CASE)]


# -- WhatsApp, in Arabic -----------------------------------------------------------------------
class WhatsAppChat:
    def __init__(self, stack, whatsapp, wa_id: str):
        self.stack, self.wa, self.wa_id = stack, whatsapp, wa_id

    def messages(self) -> list[dict]:
        return self.wa.chat(self.wa_id)

    def _post(self, notification: dict) -> list[dict]:
        before = len(self.messages())
        body, headers = self.wa.signed(notification)
        r = httpx.post(
            f"{self.stack.gateway_url}/webhooks/whatsapp", content=body, headers=headers, timeout=60
        )
        assert r.status_code == 200, r.text
        return delivered_since(self.stack, "whatsapp", self.messages, before)

    def write(self, text: str) -> list[dict]:
        return self._post(self.wa.text(self.wa_id, text))

    def press(self, message: dict, index: int) -> list[dict]:
        interactive = message["interactive"]
        if interactive["type"] == "button":
            reply = interactive["action"]["buttons"][index]["reply"]
            return self._post(self.wa.button_reply(self.wa_id, reply["id"], reply["title"]))
        row = interactive["action"]["sections"][0]["rows"][index]
        return self._post(self.wa.list_reply(self.wa_id, row["id"], row["title"]))


def body_of(message: dict) -> str:
    if message["type"] == "text":
        return message["text"]["body"]
    if message["type"] == "interactive":
        return message["interactive"]["body"]["text"]
    return ""


def interactive(messages: list[dict]) -> dict:
    marked = [m for m in messages if m["type"] == "interactive"]
    assert marked, f"expected choices in {[body_of(m)[:60] for m in messages]}"
    return marked[-1]


def whatsapp_question(replies: list[dict], name: str, language: str, kind: str) -> dict:
    """The one interactive message asking `name`: reply buttons for up to three choices, a
    list for more (a row shows 24 characters, the whole title is its description)."""
    want = texts.response(name, language)
    assert [(m["type"], body_of(m)) for m in replies] == [("interactive", want["text"])], name
    [message] = replies
    assert message["interactive"]["type"] == kind, name
    action = message["interactive"]["action"]
    if kind == "button":
        labels = [b["reply"]["title"] for b in action["buttons"]]
    else:
        labels = [r.get("description", r["title"]) for s in action["sections"] for r in s["rows"]]
    assert labels == [b["title"] for b in want["buttons"]], name
    return message


def test_arabic_on_whatsapp_clarification_answer_and_handoff(stack, platforms):
    chat = WhatsAppChat(stack, platforms[2], wa_id="4520550001")

    chat.write("مرحبا، عندي سؤال من فضلك")
    replies = chat.write("مترجم")  # "interpreter": three entries could be meant
    if body_of(replies[-1]) == texts.text("utter_ask_region_answer", "ar"):
        replies = chat.write("أسكن في أودنسه")
    clarify = interactive(replies)
    assert body_of(clarify) == texts.text("utter_clarify", "ar")
    choices = clarify["interactive"]["action"]["buttons"]
    assert 2 <= len(choices) <= 3 and all(len(c["reply"]["title"]) <= 20 for c in choices)

    answer = "\n".join(body_of(m) for m in chat.press(clarify, 0))
    assert answer and answer != texts.text("utter_no_answer", "ar")
    assert texts.text("utter_answer_source", "ar").split("{")[0] in answer, (
        "an answer names its source"
    )

    replies = chat.write("أريد التحدث مع شخص")
    for name, payload in HANDOFF_PATH:
        kind = "list" if name == "utter_ask_handoff_topic" else "button"  # six topics
        question = whatsapp_question(replies, name, "ar", kind)
        replies = chat.press(question, button_index(name, "ar", payload))
    outcome = texts.text(handoff_outcome(stack), "ar")
    assert [(m["type"], body_of(m)) for m in replies] == [("text", outcome)]
    assert cases_for(stack, "whatsapp") == [("ar", *HANDOFF_CASE)]
