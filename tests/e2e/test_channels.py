"""A woman's conversation on each platform, through the real stack (Rasa, the action server
with the real knowledge index, the gateway and its delivery worker), with fake platform APIs
on loopback that speak Telegram's and WhatsApp's wire formats.

Somali on Telegram and Arabic on WhatsApp: a vague question gets clarification buttons in
her language, a press gets the answer from the knowledge base, and asking for a person walks
through the handoff questions to a referral case in the queue.
"""

from __future__ import annotations

import html
import time

import httpx
import pytest
from sqlalchemy import create_engine, select

from bot.referrals import Case
from common import texts
from knowledge.store import load
from tests.e2e.conftest import TELEGRAM_SECRET

pytestmark = pytest.mark.stack
KB = load()
HANDOFF_REPLIES = ("utter_handoff_queued", "utter_handoff_nobody", "utter_handoff_closed")


def settled(read, before: int, timeout: float = 60.0, quiet: float = 1.0) -> list:
    """Waits for new messages in a chat, then for the burst to end; returns the new ones."""
    deadline = time.monotonic() + timeout
    last_count, last_change = before, time.monotonic()
    while time.monotonic() < deadline:
        count = len(read())
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif count > before and time.monotonic() - last_change >= quiet:
            return read()[before:]
        time.sleep(0.1)
    raise AssertionError(f"no reply within {timeout} s (had {before}, now {len(read())})")


def handoff_prefixes(language: str) -> list[str]:
    out = []
    for name in HANDOFF_REPLIES:
        try:
            out.append(texts.text(name, language).split("{")[0].strip()[:40])
        except Exception:  # a variant not (yet) in domain.yml
            continue
    return out


def cases_for(stack, channel: str) -> list:
    engine = create_engine(stack.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Case.channel, Case.language, Case.status, Case.topic).where(
                Case.channel == channel
            )
        ).all()
    engine.dispose()
    return rows


def first_general_choice(buttons: list[tuple[str, str]]) -> int:
    """The first clarification choice valid in all of Denmark (no region question)."""
    for i, (_title, payload) in enumerate(buttons):
        entry_id = payload.split('"entry_id": "')[-1].rstrip('"}')
        if entry_id in KB.entries and KB.entries[entry_id].region == "all":
            return i
    return 0


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
        return settled(self.messages, before)

    def write(self, text: str) -> list[dict]:
        return self._post(self.tg.text_update(self.chat_id, text))

    def press(self, message: dict, index: int) -> list[dict]:
        data = message["reply_markup"]["inline_keyboard"][index][0]["callback_data"]
        return self._post(self.tg.callback_update(self.chat_id, data, message["message_id"]))


def with_buttons(messages: list[dict]) -> dict:
    marked = [m for m in messages if m.get("reply_markup")]
    assert marked, f"expected buttons in {[m['text'][:60] for m in messages]}"
    return marked[-1]


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
    body = html.unescape("\n".join(m["text"] for m in answer))
    titles = [row[0]["text"] for row in keyboard]
    entry = next(e for e in KB.entries if KB.render(e, "so").title == titles[0])
    assert KB.render(entry, "so").text.split("\n")[0][:40] in body
    assert texts.text("utter_answer_source", "so").split("{")[0] in body

    replies = chat.write("/human")
    for _ in range(6):  # topic, woman counsellor, contact later, confirmation
        text = "\n".join(m["text"] for m in replies)
        if any(p and p in text for p in handoff_prefixes("so")):
            break
        replies = chat.press(with_buttons(replies), 0)
    else:
        pytest.fail(f"no referral confirmation; last replies: {text[:300]}")
    cases = cases_for(stack, "telegram")
    assert [(c.language, c.status) for c in cases] == [("so", "waiting")]


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
        return settled(self.messages, before)

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
    for _ in range(6):
        text = "\n".join(body_of(m) for m in replies)
        if any(p and p in text for p in handoff_prefixes("ar")):
            break
        replies = chat.press(interactive(replies), 0)
    else:
        pytest.fail(f"no referral confirmation; last replies: {text[:300]}")
    cases = cases_for(stack, "whatsapp")
    assert [(c.language, c.status) for c in cases] == [("ar", "waiting")]
