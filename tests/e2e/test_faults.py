"""Processes dying in the middle of her conversation, in the real stack: every message the
gateway accepted is answered exactly once after recovery, and she is told what happened
meanwhile. (A Rasa restart in the middle of the handoff form: tests/e2e/test_tracker_store.py.
The database failing: tests/integration/test_gateway.py.)

Each test kills one process outright (SIGKILL, nothing saved on the way out), starts it again
and waits until the stack is healthy, so the next test meets a whole stack."""

from __future__ import annotations

import html
import os
import re
import signal
from collections import Counter

import httpx
import pytest
from sqlalchemy import select

from bot.storage import crypto
from bot.storage.models import Contact, Message
from common import texts
from tests.e2e.conftest import TELEGRAM_SECRET
from tests.e2e.test_channels import query
from tests.support.delivery import wait_until_delivered
from tests.support.replies import is_privacy_notice
from tests.support.waiting import wait_for

pytestmark = pytest.mark.stack


def _kill(stack, name: str) -> None:
    proc = stack.procs.pop(name)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _write(stack, telegram, chat_id: int, text: str) -> None:
    r = httpx.post(
        f"{stack.gateway_url}/webhooks/telegram",
        json=telegram.text_update(chat_id, text),
        headers={"x-telegram-bot-api-secret-token": TELEGRAM_SECRET},
        timeout=60,
    )
    assert r.status_code == 200, r.text


def _chat_texts(telegram, chat_id: int) -> list[str]:
    return [html.unescape(m["text"]) for m in telegram.chat(chat_id)]


def _newest_telegram_conversation(stack) -> list[tuple[str, str, str]]:
    """(direction, status, text) of each message of the Telegram woman who wrote first most
    recently: the test's own (ids are hashed, so she cannot be found by her chat id)."""
    [(contact_id,)] = query(
        stack,
        select(Contact.id)
        .where(Contact.channel == "telegram")
        .order_by(Contact.id.desc())
        .limit(1),
    )
    rows = query(
        stack,
        select(Message.direction, Message.status, Message.text)
        .where(Message.contact_id == contact_id)
        .order_by(Message.id),
    )
    return [tuple(r) for r in rows]


def _no_duplicates(sent: list[str]) -> None:
    twice = [t[:60] for t, n in Counter(sent).items() if n > 1]
    assert twice == [], "a reply reached her twice"


def test_action_server_killed_she_is_told_and_answered_once_when_it_is_back(stack, platforms):
    telegram = platforms[0]
    chat_id = 880_000_001
    question = "Sideen ku heli karaa kaarka caafimaadka (sundhedskort)?"
    _kill(stack, "actions")
    try:
        wait_for(lambda: stack.health()[0] == 503, timeout=30, what="the outage to show")
        _write(stack, telegram, chat_id, question)
        wait_until_delivered(stack.database_url, channels=["telegram"], timeout=60)
        during = [t for t in _chat_texts(telegram, chat_id) if not is_privacy_notice(t)]
        # Rasa may greet her on its own; what matters is that she is told, last, in Somali
        assert during[-1] == texts.text("utter_service_down", "so"), "told plainly"
    finally:
        stack.start_actions()
        stack.wait_healthy(timeout_s=300)

    def answered():
        mine = _newest_telegram_conversation(stack)
        return [status for direction, status, _ in mine if direction == "in"] == ["processed"]

    wait_for(answered, timeout=60, what="the kept message to be answered by the retry")
    wait_until_delivered(stack.database_url, channels=["telegram"], timeout=60)
    after = _chat_texts(telegram, chat_id)
    answer = [t for t in after if t not in during and not is_privacy_notice(t)]
    assert answer, "her question was answered once the action server was back"
    assert after.count(texts.text("utter_service_down", "so")) == 1, "no second outage notice"
    _no_duplicates(after)


def test_gateway_killed_with_replies_unsent_delivers_each_once_after_restart(stack, platforms):
    telegram = platforms[0]
    chat_id = 880_000_002
    stack.wait_healthy(timeout_s=300)
    # Telegram is failing: the replies wait in the outbox, queued for a retry
    telegram.fail_next = [(502, "Bad Gateway", None)] * 1000
    try:
        _write(stack, telegram, chat_id, "Hvor kan jeg lære dansk?")
        wait_for(lambda: "sendMessage" in telegram.calls[-3:], timeout=30, what="a failed send")
        _kill(stack, "gateway")
    finally:
        telegram.fail_next = []
    assert telegram.chat(chat_id) == [], "nothing reached her while Telegram failed"
    stack.start_gateway()
    stack.wait_healthy(timeout_s=300)
    wait_until_delivered(stack.database_url, channels=["telegram"], timeout=120)

    sent = _chat_texts(telegram, chat_id)
    crypto.use_keys(stack.extra_env["DATA_KEYS"])  # to read her stored replies
    try:
        mine = _newest_telegram_conversation(stack)
    finally:
        crypto.use_keys(None)
    assert [status for direction, status, _ in mine if direction == "in"] == ["processed"]
    replies = [(status, text) for direction, status, text in mine if direction == "out"]
    assert replies and all(status == "sent" for status, _ in replies), replies
    # Telegram shows the marks as HTML (*term* -> <i>term</i>): compare the words
    shown = [re.sub(r"<[^>]+>", "", t) for t in sent]
    assert shown == [t.replace("*", "") for _, t in replies], "each reached her exactly once"
