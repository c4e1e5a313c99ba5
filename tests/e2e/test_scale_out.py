"""Two of each process against one PostgreSQL database and one Redis, configured only through
the environment (README "Running more than one of each"): stacks A and B, each a gateway, a
Rasa server and an action server on its own ports, share DATABASE_URL, REDIS_URL, DATA_KEYS,
HASH_KEY and one Telegram bot (the fake on loopback, webhook mode), as an organisation runs
them behind a load balancer for uptime.

- Six women write at once, each her messages one after another (Telegram delivers one chat's
  updates in order), every webhook of a conversation going to the other gateway than the one
  before. Meanwhile one gateway, then one Rasa server, then one action server is killed outright
  and started again. Every message is stored once and answered, every answer reached her chat
  once and in her order, and every reply row ends `sent`.
- A case claimed by a counsellor through gateway A is held in gateway B's workspace: a
  colleague there is told who has it, and the bot stays silent when the woman writes through B.
- Rasa A killed in the middle of her request for a person: her next answer, through gateway B
  and Rasa B, goes on with the same form (the trackers are in the shared database).
"""

from __future__ import annotations

import html
import os
import re
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.referrals import Case
from bot.storage import crypto
from bot.storage.models import Message
from bot.workspace import auth
from common import texts
from common.vocab import LANGUAGES
from tests.e2e.conftest import TELEGRAM_SECRET, platform_env
from tests.e2e.test_dialogue import ASK_PERSON
from tests.support.delivery import wait_until_delivered
from tests.support.postgres import fresh_schema
from tests.support.replies import is_privacy_notice
from tests.support.servers import free_port
from tests.support.waiting import wait_for
from tools.stack import Ports, Stack

pytestmark = pytest.mark.stack

DATA_KEYS = Fernet.generate_key().decode()
PASSWORD = "a long password"
SERVICE_DOWN = {texts.text("utter_service_down", lang) for lang in LANGUAGES}
PACE_S = 2.5  # between two messages of one woman: she reads, then writes again
# Each woman's questions, asked in turn until the faults are over (at least once each).
QUESTIONS = {
    "da": [
        "hvor lærer jeg dansk",
        "hvad er et sundhedskort",
        "hvordan finder jeg en egen læge",
        "hvad er indfødsretsprøven",
        "tak for hjælpen",
    ],
    "en": [
        "free health check",
        "how do I learn Danish",
        "what is the citizenship test and when is it held",
        "where do I get a health card",
        "thank you",
    ],
    "ar": [
        "مرحبا",
        "كيف أتعلم اللغة الدنماركية",
        "ما هي البطاقة الصحية الصفراء وكيف أحصل عليها؟",
        "أين أجد طبيب العائلة",
        "شكرا",
    ],
    "so": [
        "Sideen ku heli karaa kaarka caafimaadka (sundhedskort)?",
        "iska warran",
        "sideen u bartaa luqadda deenishka",
        "xagee ka helaa dhakhtarka qoyska",
        "mahadsanid",
    ],
    "uk": [
        "Мені потрібен лікар, де знайти сімейного лікаря?",
        "А як отримати картку здоров'я?",
        "де вивчати датську мову",
        "привіт",
        "дякую",
    ],
    "tr": [
        "merhaba",
        "Danca nerede öğrenebilirim",
        "sağlık kartı nasıl alırım",
        "vatandaşlık sınavı nedir",
        "teşekkürler",
    ],
}


@pytest.fixture(scope="module")
def database(postgres_server_url):
    """A fresh PostgreSQL schema for the module's two stacks (tests/conftest.py's
    `postgres_url` is one per test; these stacks live for the module)."""
    with fresh_schema(postgres_server_url) as url:
        yield url


@pytest.fixture(scope="module")
def stacks(tmp_path_factory, platforms, database, redis_url):
    """Stacks A and B with the same environment but their own ports. Both gateways start at
    the same moment on the new database: they migrate it one after the other
    (migrations/env.py); before, the second one failed and exited."""
    tmp = tmp_path_factory.mktemp("scale-out")
    shared = {
        **platform_env(platforms),
        "REDIS_URL": redis_url,
        "DATA_KEYS": DATA_KEYS,
        "HASH_KEY": f"scale-out-{uuid.uuid4().hex}",
        # a reply whose gateway is killed mid-send is taken over within seconds
        "DELIVERY_CLAIM_TIMEOUT_S": "20",
        "HELD_NOTICE_AFTER_S": "4",
    }
    a, b = (
        Stack(
            ports=Ports(gateway=free_port(), rasa=free_port(), actions=free_port()),
            database_url=database,
            log_dir=tmp / name / "log",
            extra_env=shared,
        )
        for name in ("a", "b")
    )
    try:
        for s in (a, b):
            s.start_actions()
            s.start_rasa()
        a.start_gateway()
        b.start_gateway()
        a.wait_healthy(timeout_s=300)
        b.wait_healthy(timeout_s=300)
        yield a, b
    finally:
        a.stop()
        b.stop()


def _kill(stack: Stack, name: str) -> None:
    """Kills one process outright (SIGKILL: nothing saved on the way out, as in
    test_faults.py)."""
    proc = stack.procs.pop(name)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _start_again(stack: Stack, name: str) -> None:
    getattr(stack, f"start_{name}")()
    stack.wait_healthy(timeout_s=300)


def _sending(database_url: str) -> set[int]:
    """The replies being sent now: those of a gateway just killed stay so until another
    gateway takes them over (DELIVERY_CLAIM_TIMEOUT_S) and sends them again."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Message.id).where(Message.status == "sending"))
            return {row.id for row in rows}
    finally:
        engine.dispose()


def _post(stack: Stack, update: dict) -> httpx.Response:
    return httpx.post(
        f"{stack.gateway_url}/webhooks/telegram",
        json=update,
        headers={"x-telegram-bot-api-secret-token": TELEGRAM_SECRET},
        timeout=60,
    )


def _deliver(update: dict, first: Stack, other: Stack, retries: list[str]) -> None:
    """As Telegram delivers a webhook: again until a gateway answers 200. A refused or dropped
    connection, or a 5xx, is retried half a second later, and the load balancer sends the
    retry to the other gateway."""
    deadline = time.monotonic() + 180
    targets = [first, other]
    for attempt in range(1000):
        target = targets[attempt % 2]
        try:
            r = _post(target, update)
        except httpx.TransportError as exc:
            problem = type(exc).__name__
        else:
            if r.status_code == 200:
                return
            assert r.status_code >= 500, r.text  # anything else is refused for good
            problem = str(r.status_code)
        retries.append(f"update {update['update_id']} at :{target.ports.gateway}: {problem}")
        assert time.monotonic() < deadline, f"no gateway took update {update['update_id']}"
        time.sleep(0.5)


@dataclass
class Woman:
    chat_id: int
    language: str
    message_ids: list[int] = field(default_factory=list)  # what she sent, in order
    retries: list[str] = field(default_factory=list)


def _converse(telegram, woman: Woman, gateways: tuple[Stack, Stack], stop, sent) -> None:
    """Her messages one after another, each to the other gateway than the one before, until
    `stop` (and each question at least once). Her first update is delivered twice, the second
    time to the other gateway, as Telegram does when its first delivery got no answer."""
    questions = QUESTIONS[woman.language]
    k = 0
    while k < len(questions) or not stop.is_set():
        update = telegram.text_update(
            woman.chat_id, questions[k % len(questions)], language_code=woman.language
        )
        woman.message_ids.append(update["message"]["message_id"])
        first = gateways[(woman.chat_id + k) % 2]
        other = gateways[(woman.chat_id + k + 1) % 2]
        _deliver(update, first, other, woman.retries)
        if k == 0:
            _deliver(update, other, first, woman.retries)
        sent.release()
        k += 1
        time.sleep(PACE_S)


def _shown(message: dict) -> str:
    """What she reads of a Telegram message: HTML marks gone, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", message["text"]))


def _her_rows(engine, woman: Woman) -> tuple[list[Message], list[Message]]:
    """Her stored messages and replies, oldest first: found by her first message's id (her
    contact's id is a keyed hash of her chat id)."""
    with Session(engine) as db:
        first = db.scalar(select(Message).where(Message.external_id == f"m:{woman.message_ids[0]}"))
        assert first is not None, f"chat {woman.chat_id}: her first message was not stored"
        rows = db.scalars(
            select(Message).where(Message.contact_id == first.contact_id).order_by(Message.id)
        ).all()
    return [m for m in rows if m.direction == "in"], [m for m in rows if m.direction == "out"]


def _check_her_chat(
    telegram, woman: Woman, ins: list[Message], outs: list[Message], cut_off: set[int]
) -> None:
    """Each of her messages stored once, in her order, and answered; each answer sent and in
    her chat once; all the answers to one message before those to the next. A chat message is
    matched to its row by the id Telegram gave it (the row's external_id, `tg:<id>`), so the
    same answer to a repeated question cannot be taken for another.

    The one copy allowed is the documented one (README, bot/core/delivery.py): a reply whose
    gateway was killed after Telegram took it but before it was marked sent (`cut_off`, the
    rows `sending` when the gateway died) is sent again by the other gateway, and that later
    copy is the one its row records."""
    turn = {m.id: k for k, m in enumerate(ins)}  # her k-th message
    story = "\n".join(
        f"  her #{turn[m.id]} (row {m.id}, {m.status}) {m.text[:30]!r}: "
        + ", ".join(f"{r.id} {r.kind} {r.text[:40]!r}" for r in outs if r.reply_to_id == m.id)
        for m in ins
    )
    where = f"chat {woman.chat_id} ({woman.language}; retried: {woman.retries})\n{story}"
    assert [m.external_id for m in ins] == [f"m:{i}" for i in woman.message_ids], where
    assert {m.status for m in ins} == {"processed"}, where
    assert [r.status for r in outs] == ["sent"] * len(outs), where
    assert all(r.reply_to_id in turn for r in outs), f"{where}: a reply to no message of hers"
    assert set(turn) == {r.reply_to_id for r in outs}, f"{where}: a message without an answer"
    twice = [
        (turn[r.reply_to_id], r.id)
        for r in outs
        if any(o.reply_to_id == r.reply_to_id and o.text == r.text and o.id < r.id for o in outs)
    ]
    assert twice == [], f"{where}: one message answered twice"

    by_telegram_id = {r.external_id: r for r in outs}
    chat = []
    for m in telegram.chat(woman.chat_id):
        row = by_telegram_id.get(f"tg:{m['message_id']}")
        if row is None:  # Telegram took it, its row does not say so: an earlier copy
            copy_of = [r.id for r in outs if r.id in cut_off and _shown(m) == _plain(r)]
            assert copy_of, f"{where}: {_shown(m)[:60]!r} reached her twice or was never stored"
            cut_off = cut_off - {copy_of[0]}  # one copy at most
            continue
        chat.append((m, row))
    arrived = [row for _, row in chat]
    # (her message, reply row) in the order they reached her, against her order
    expected = sorted(outs, key=lambda r: (turn[r.reply_to_id], r.id))
    order = [(turn[r.reply_to_id], r.id) for r in arrived]
    assert order == [(turn[r.reply_to_id], r.id) for r in expected], where
    assert [_shown(m) for m, _ in chat] == [_plain(r) for r in expected], where


def _plain(row: Message) -> str:
    """A stored reply as she reads it on Telegram: the marks (*term*, **bold**) shown as
    italics and bold, so without the stars."""
    return row.text.replace("*", "")


def test_each_message_is_answered_once_in_her_order_while_one_of_each_is_restarted(
    stacks, platforms
):
    a, b = stacks
    telegram = platforms[0]
    women = [Woman(881_000_000 + i, lang) for i, lang in enumerate(QUESTIONS)]
    stop, sent = threading.Event(), threading.Semaphore(0)

    def wait_for_messages(n: int, what: str) -> None:
        for _ in range(n):
            assert sent.acquire(timeout=180), f"the women stopped being answered ({what})"

    cut_off: set[int] = set()
    with ThreadPoolExecutor(len(women)) as pool:
        talks = [pool.submit(_converse, telegram, w, (a, b), stop, sent) for w in women]
        wait_for_messages(len(women), "before the faults")
        for stack, name in ((a, "gateway"), (b, "rasa"), (a, "actions")):
            _kill(stack, name)
            if name == "gateway":
                cut_off = _sending(a.database_url)
            _start_again(stack, name)
            # the women go on writing past each restart, not only during it
            wait_for_messages(len(women), f"after {name} restarted")
        stop.set()
        for talk in talks:
            talk.result()

    engine = create_engine(a.database_url)
    crypto.use_keys(DATA_KEYS)  # to read her stored messages
    try:

        def all_answered() -> bool:
            with engine.connect() as conn:
                waiting = conn.execute(
                    select(Message.id).where(
                        Message.direction == "in", Message.status != "processed"
                    )
                ).all()
            return not waiting

        wait_for(all_answered, timeout=180, what="every kept message to be answered")
        wait_until_delivered(engine, channels=["telegram"], timeout=120)
        told = 0  # replies saying the bot cannot answer now: her message was kept
        for woman in women:
            ins, outs = _her_rows(engine, woman)
            _check_her_chat(telegram, woman, ins, outs, cut_off)
            told += sum(r.text in SERVICE_DOWN for r in outs)
    finally:
        crypto.use_keys(None)
        engine.dispose()
    # the faults were felt: webhooks to the dead gateway were delivered again, and messages
    # that reached a stack without its Rasa or its actions were kept and answered later
    assert any(w.retries for w in women), "no webhook met the dead gateway"
    assert told > 0, "no message met a dead Rasa or action server"


# -- a case claimed in one gateway's workspace ------------------------------------------------


def _new_chat(telegram, stack: Stack, chat_id: int, message: str) -> list[str]:
    """Her message through this gateway and what reached her chat because of it (the privacy
    notice left out), once the delivery workers have sent everything."""
    before = len(telegram.chat(chat_id))
    r = _post(stack, telegram.text_update(chat_id, message, language_code="da"))
    assert r.status_code == 200, r.text
    wait_until_delivered(stack.database_url, channels=["telegram"], timeout=60)
    shown = [_shown(m) for m in telegram.chat(chat_id)[before:]]
    return [t for t in shown if not is_privacy_notice(t)]


def _joined(replies: list[str]) -> str:
    return "\n".join(replies)


def _ask_for_a_person(telegram, stack: Stack, chat_id: int) -> None:
    """The handoff form to its end, through one gateway: health, a woman, no message later."""
    assert _new_chat(telegram, stack, chat_id, ASK_PERSON["da"]) == [
        texts.text("utter_ask_handoff_topic", "da")
    ]
    steps = [
        ('/request_human{"topic": "health"}', "utter_ask_handoff_woman"),
        ("/affirm", "utter_ask_handoff_contact"),
        ("/deny", "utter_ask_handoff_confirm"),
    ]
    for message, question in steps:
        assert _joined(_new_chat(telegram, stack, chat_id, message)) == texts.text(question, "da")
    _new_chat(telegram, stack, chat_id, "/affirm")


def _counsellor(database_url: str, username: str) -> None:
    engine = create_engine(database_url)
    try:
        with Session(engine) as db:
            auth.create_user(
                db,
                username,
                PASSWORD,
                languages="da",
                is_woman=True,
                display_name=username.title(),
            )
            db.commit()
    finally:
        engine.dispose()


def _login(stack: Stack, username: str) -> tuple[httpx.Client, str]:
    """A browser logged in to this gateway's workspace, and its CSRF token."""
    client = httpx.Client(base_url=stack.gateway_url, timeout=30)
    page = client.get("/workspace/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = client.post(
        "/workspace/login", data={"username": username, "password": PASSWORD, "csrf": csrf}
    )
    assert r.status_code == 303, r.text
    queue = client.get("/workspace/queue").text
    return client, re.search(r'<meta name="csrf-token" content="([^"]+)"', queue).group(1)


def _offered(client: httpx.Client) -> list[int]:
    return [c["id"] for c in client.get("/workspace/queue.json").json()["cases"]]


def test_a_case_claimed_through_one_gateway_is_held_in_the_others_workspace(stacks, platforms):
    a, b = stacks
    telegram = platforms[0]
    chat_id = 881_100_001
    _ask_for_a_person(telegram, a, chat_id)
    [(case_id, status)] = _rows(a, _newest_case(Case.id, Case.status))
    assert status == "waiting"

    _counsellor(a.database_url, "amal")
    _counsellor(a.database_url, "huda")
    amal, amal_csrf = _login(a, "amal")
    huda, huda_csrf = _login(b, "huda")
    assert case_id in _offered(amal) and case_id in _offered(huda)

    r = amal.post(f"/workspace/cases/{case_id}/claim", data={"csrf": amal_csrf})
    assert r.status_code == 303, r.text

    assert case_id not in _offered(huda), "gateway B no longer offers the case"
    r = huda.post(f"/workspace/cases/{case_id}/claim", data={"csrf": huda_csrf})
    assert r.status_code == 409
    assert f"Case #{case_id} was taken by a colleague: Amal claimed it" in html.unescape(r.text)

    # she writes through gateway B: the bot is silent while Amal holds her case, and after
    # HELD_NOTICE_AFTER_S she is told once (by whichever gateway's chores look first)
    assert _new_chat(telegram, b, chat_id, "er der nogen?") == []
    notice = texts.text("utter_held_notice", "da")
    wait_for(
        lambda: notice in [_shown(m) for m in telegram.chat(chat_id)],
        timeout=30,
        what="the held notice",
    )
    time.sleep(3)  # both gateways' chores have looked again several times
    assert [_shown(m) for m in telegram.chat(chat_id)].count(notice) == 1
    # Amal's session is in the shared database too: the load balancer may send her next
    # request to gateway B, which shows her the case with the message she wrote through B
    with httpx.Client(base_url=b.gateway_url, cookies=amal.cookies, timeout=30) as amal_on_b:
        page = amal_on_b.get(f"/workspace/cases/{case_id}")
    assert page.status_code == 200 and "er der nogen?" in html.unescape(page.text)
    amal.close()
    huda.close()


def _rows(stack: Stack, statement) -> list[tuple]:
    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(statement).all()]
    finally:
        engine.dispose()


def _newest_case(*columns):
    return select(*columns).where(Case.channel == "telegram").order_by(Case.id.desc()).limit(1)


def test_after_a_rasa_restart_the_other_stack_goes_on_with_her_form(stacks, platforms):
    a, b = stacks
    telegram = platforms[0]
    chat_id = 881_100_002
    assert _new_chat(telegram, a, chat_id, ASK_PERSON["da"]) == [
        texts.text("utter_ask_handoff_topic", "da")
    ]
    replies = _new_chat(telegram, a, chat_id, "om danskuddannelse og sprogskole")
    assert _joined(replies) == texts.text("utter_ask_handoff_woman", "da")

    _kill(a, "rasa")
    _start_again(a, "rasa")

    # the form still waits for "a woman counsellor?", through gateway B and Rasa B
    replies = _new_chat(telegram, b, chat_id, "/affirm")
    assert _joined(replies) == texts.text("utter_ask_handoff_contact", "da")
    replies = _new_chat(telegram, a, chat_id, "/deny")
    assert _joined(replies) == texts.text("utter_ask_handoff_confirm", "da")
    _new_chat(telegram, b, chat_id, "/affirm")
    [(topic,)] = _rows(b, _newest_case(Case.topic))
    assert topic == "danish", "the topic she gave Rasa A before its restart"
