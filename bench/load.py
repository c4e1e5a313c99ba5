"""Load and capacity of the whole stack: many women at once on REST, Telegram and WhatsApp.

    .venv/bin/python -m bench.load [--users 10,50,200] [--duration 60] [--out var/reports/load]
                                   [--database-url postgresql://...] [--timeout 60]

Starts the real stack (tools.stack.Stack: Rasa with the trained model, the action server with
the knowledge index, the gateway with its delivery worker) on a fresh SQLite database, or on
`--database-url`. This process serves the fake Telegram Bot API and WhatsApp Graph API
(tests/support) and is the load: for each user count, that many simulated women write at once
for `--duration` seconds. Each woman has one conversation of 2-5 messages in one of the nine
languages on one channel and then leaves; a new woman takes her place. She writes a knowledge
base question (the entries' own example questions), sometimes presses a button of the reply she
got (REST: its payload; Telegram: a callback query; WhatsApp: an interactive reply),
sometimes asks for a person or writes a danger message, and waits for the answer, plus a think
time, before her next message. On Telegram she starts with /start, as the app makes her.

Latency of one message: REST, until the HTTP answer; Telegram and WhatsApp, from the webhook
POST until the last of its replies reaches the fake chat. "The last": the gateway stores her
message and its replies before it answers the webhook, and a reply's row leaves `sending` only
after the platform has it (tests/support/delivery.py); so her message is answered when its
reply rows (reply_to_id) exist and none is queued or sending. One query every 100 ms covers
all waiting women.

After each step every message is accounted for, from the database and the fake chats:
lost (a reply row never sent, or sent but not in her chat), duplicated (a reply that arrived
twice, or one no row sent), out of order (a reply to her message k arriving after one to a
later message). Exits 1 if any is not 0. Errors (non-200, no reply within `--timeout`, or the
gateway's "technical problem" answer) are counted apart: they measure capacity.

Writes load.md (tables), load.svg (latency percentiles and throughput against users),
load.json and the stack's logs (logs/) under `--out`. Memory: the resident size of each stack
process with its children at rest and its peak during each step, sampled every second.
A bounded asyncio driver (one task per woman), not locust: bench/README.md says why.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from bench.run import percentile
from bot.storage.db import make_engine
from bot.storage.models import Message
from common import texts
from knowledge.store import load as load_kb
from tests.support.delivery import undelivered
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_whatsapp import PHONE_NUMBER_ID, VERSION, FakeWhatsApp
from tests.support.servers import free_port, serve
from tools.stack import REPO, Ports, Stack

LANGUAGES = ("en", "da", "ar", "fa", "ur", "so", "ti", "uk", "tr")
CHANNELS = ("rest", "telegram", "whatsapp")
SECRET = "load-telegram-secret"
IN_FLIGHT = ("queued", "sending")
SENT = ("sent", "delivered", "read")
POLL_S = 0.1


# -- what the women write ------------------------------------------------------------------
@dataclass
class Content:
    questions: dict[str, list[str]]  # the knowledge base entries' example questions
    handoff: dict[str, list[str]]  # request_human examples (nlu/data/<lang>.yml)
    danger: dict[str, list[str]]  # bot/core/danger_examples.yml, "danger"
    service_down: set[str]  # the gateway's answer when Rasa or the action server fails

    @classmethod
    def load(cls) -> Content:
        questions: dict[str, list[str]] = defaultdict(list)
        for entry in load_kb().entries.values():
            for lang, items in (entry.questions or {}).items():
                questions[lang].extend(items)
        handoff = {}
        for lang in LANGUAGES:
            nlu = yaml.safe_load((REPO / "nlu" / "data" / f"{lang}.yml").read_text("utf-8"))
            [block] = [b for b in nlu["nlu"] if b.get("intent") == "request_human"]
            handoff[lang] = [x[2:].strip() for x in block["examples"].splitlines() if x.strip()]
        examples = yaml.safe_load((REPO / "bot/core/danger_examples.yml").read_text("utf-8"))
        return cls(
            questions={lang: questions[lang] for lang in LANGUAGES},
            handoff=handoff,
            danger={lang: examples["danger"][lang] for lang in LANGUAGES},
            service_down={texts.text("utter_service_down", lang) for lang in LANGUAGES},
        )


@dataclass
class Turn:
    """One message she sent and what came of it."""

    step: int
    channel: str
    language: str
    kind: str  # start | question | button | handoff | danger
    started: float
    latency_ms: float | None = None  # None: an error
    webhook_ms: float | None = None
    replies: int = 0
    error: str | None = None  # http 5xx | timeout | no reply | service down
    external_id: str | None = None  # push channels: the gateway's id for her message


# -- the fake chats, indexed per chat --------------------------------------------------------
class Chats:
    """The fake platform's sent messages per chat. The fakes append from their own threads;
    this reads the new ones on demand (a scan of the whole list per look grew quadratic)."""

    def __init__(self, sent: list[dict], key):
        self.sent, self.key, self.seen = sent, key, 0
        self.by_chat: dict[str, list[dict]] = defaultdict(list)

    def of(self, chat: str) -> list[dict]:
        end = len(self.sent)
        for m in self.sent[self.seen : end]:
            self.by_chat[str(self.key(m))].append(m)
        self.seen = end
        return self.by_chat[chat]


def record_text(m: dict) -> str:
    if isinstance(m.get("text"), str):  # Telegram, parse_mode HTML
        return html.unescape(m["text"])
    if isinstance(m.get("text"), dict):  # WhatsApp text
        return m["text"].get("body", "")
    return ((m.get("interactive") or {}).get("body") or {}).get("text", "")


def record_buttons(m: dict) -> list[tuple[str, str]]:
    """(id, title) of the buttons on one message in a fake chat."""
    if m.get("reply_markup"):
        rows = m["reply_markup"].get("inline_keyboard") or []
        return [(b["callback_data"], b["text"]) for row in rows for b in row]
    action = (m.get("interactive") or {}).get("action") or {}
    if "buttons" in action:
        return [(b["reply"]["id"], b["reply"]["title"]) for b in action["buttons"]]
    rows = [r for s in action.get("sections", []) for r in s["rows"]]
    return [(r["id"], r["title"]) for r in rows]


# -- knowing that her message is answered -----------------------------------------------------
class Completion:
    """Resolves a woman's wait once her message's reply rows exist and none is in flight."""

    def __init__(self, engine):
        self.engine = engine
        self.pending: dict[str, asyncio.Future] = {}
        self.queries = 0

    async def wait(self, external_id: str, timeout: float) -> bool:
        future = asyncio.get_running_loop().create_future()
        self.pending[external_id] = future
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.pending.pop(external_id, None)

    def _answered(self, ids: list[str]) -> list[str]:
        out = aliased(Message)
        flying = func.count(case((out.status.in_(IN_FLIGHT), 1)))
        stmt = (
            select(Message.external_id, func.count(out.id), flying)
            .outerjoin(out, out.reply_to_id == Message.id)
            .where(Message.direction == "in", Message.external_id.in_(ids))
            .group_by(Message.external_id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        self.queries += 1
        return [ext for ext, n, in_flight in rows if n and not in_flight]

    async def run(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            if self.pending:
                for ext in await asyncio.to_thread(self._answered, list(self.pending)):
                    future = self.pending.get(ext)
                    if future is not None and not future.done():
                        future.set_result(None)


# -- the simulated women ------------------------------------------------------------------------
@dataclass
class Load:
    url: str
    http: httpx.AsyncClient
    tg: FakeTelegram
    wa: FakeWhatsApp
    tg_chats: Chats
    wa_chats: Chats
    completion: Completion
    content: Content
    timeout: float
    think_s: float
    turns: list[Turn] = field(default_factory=list)
    conversations: list[tuple[str, str, list[str]]] = field(default_factory=list)
    ids: Counter = field(default_factory=Counter)

    async def woman(self, step: int, rng: random.Random, end: float) -> None:
        """One woman after another in this slot until `end`."""
        while time.monotonic() < end:
            await self.conversation(step, rng, end)
            await asyncio.sleep(rng.uniform(0, self.think_s))

    async def conversation(self, step: int, rng: random.Random, end: float) -> None:
        channel, lang = rng.choice(CHANNELS), rng.choice(LANGUAGES)
        self.ids[channel] += 1
        n = self.ids[channel]
        chat = {
            "rest": f"load-{step}-{n}",
            "telegram": str(6_000_000 + 10_000 * step + n),
            "whatsapp": f"4531{step:02d}{n:06d}",
        }[channel]
        mine: list[str] = []  # push channels: her messages' external ids, in order
        self.conversations.append((channel, chat, mine))
        buttons: list[tuple[str, str]] = []  # (what a press sends, title)
        in_form = False
        for i in range(rng.randint(2, 5)):
            if time.monotonic() >= end:
                return
            if i == 0 and channel == "telegram":
                kind, text = "start", "/start"
            elif buttons and (in_form or rng.random() < 0.35):
                kind = "button"
                press = _language_button(buttons, lang) if i == 1 else None
                text = press or rng.choice(buttons)[0]
            elif i > 0 and rng.random() < 0.1:
                kind, text = "handoff", rng.choice(self.content.handoff[lang])
            elif i > 0 and rng.random() < 0.08:
                kind, text = "danger", rng.choice(self.content.danger[lang])
            else:
                kind, text = "question", rng.choice(self.content.questions[lang])
            in_form = in_form or kind == "handoff"
            turn = Turn(step, channel, lang, kind, time.monotonic())
            self.turns.append(turn)
            if channel == "rest":
                buttons = await self.rest(turn, chat, text)
            else:
                buttons = await self.push(turn, chat, text, kind == "button")
                if turn.external_id:
                    mine.append(turn.external_id)
            if turn.error:
                return  # she gives up; a platform would deliver the update again
            await asyncio.sleep(rng.uniform(0.5, 1.5) * self.think_s)

    async def _post(self, turn: Turn, **request) -> httpx.Response | None:
        """One POST of her message; None, with `turn.error` set, unless it answered 200."""
        try:
            r = await self.http.post(**request, timeout=self.timeout)
        except httpx.TimeoutException:
            turn.error = "timeout"
            return None
        except httpx.HTTPError as exc:
            turn.error = f"http {exc.__class__.__name__}"
            return None
        if r.status_code != 200:
            turn.error = f"http {r.status_code}"
            return None
        return r

    async def rest(self, turn: Turn, sender: str, text: str) -> list[tuple[str, str]]:
        r = await self._post(
            turn, url=f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
        )
        elapsed = (time.monotonic() - turn.started) * 1000
        if r is None:
            return []
        replies = r.json()
        turn.replies = len(replies)
        turn.webhook_ms = elapsed
        if not replies:
            turn.error = "no reply"
        elif any(m.get("text") in self.content.service_down for m in replies):
            turn.error = "service down"
        else:
            turn.latency_ms = elapsed
        return [(b["payload"], b["title"]) for m in replies for b in m.get("buttons") or []]

    async def push(self, turn: Turn, chat: str, text: str, press: bool) -> list[tuple[str, str]]:
        chats = self.tg_chats if turn.channel == "telegram" else self.wa_chats
        before = len(chats.of(chat))
        if turn.channel == "telegram":
            if press:
                message_id = next(
                    m["message_id"]
                    for m in reversed(chats.of(chat))
                    if any(b[0] == text for b in record_buttons(m))
                )
                update = self.tg.callback_update(int(chat), text, message_id)
                turn.external_id = f"cb:{update['callback_query']['id']}"
            else:
                update = self.tg.text_update(int(chat), text)
                turn.external_id = f"m:{update['message']['message_id']}"
            request = {
                "url": f"{self.url}/webhooks/telegram",
                "json": update,
                "headers": {"x-telegram-bot-api-secret-token": SECRET},
            }
        else:
            if press:
                title = next(
                    b[1]
                    for m in reversed(chats.of(chat))
                    for b in record_buttons(m)
                    if b[0] == text
                )
                reply = self.wa.list_reply if _is_list_row(chats.of(chat), text) else None
                notification = (reply or self.wa.button_reply)(chat, text, title)
            else:
                notification = self.wa.text(chat, text)
            value = notification["entry"][0]["changes"][0]["value"]
            turn.external_id = value["messages"][0]["id"]
            body, headers = self.wa.signed(notification)
            request = {"url": f"{self.url}/webhooks/whatsapp", "content": body, "headers": headers}
        r = await self._post(turn, **request)
        turn.webhook_ms = (time.monotonic() - turn.started) * 1000
        if r is None:
            return []
        left = self.timeout - (time.monotonic() - turn.started)
        if not await self.completion.wait(turn.external_id, max(left, 0.01)):
            turn.error = "timeout"
            return []
        replies = chats.of(chat)[before:]
        turn.replies = len(replies)
        if not replies:
            turn.error = "no reply"  # stored as sent, never in her chat: also counted lost
            return []
        if any(record_text(m) in self.content.service_down for m in replies):
            turn.error = "service down"
        else:
            turn.latency_ms = (replies[-1]["at"] - turn.started) * 1000
        return [b for m in replies for b in record_buttons(m)]


def _language_button(buttons: list[tuple[str, str]], lang: str) -> str | None:
    """On the language menu (Telegram's /start), the button with her language."""
    menu = texts.response("utter_ask_language", None)["buttons"]
    title = next((b["title"] for b in menu if f'"{lang}"' in b["payload"]), None)
    return next((b[0] for b in buttons if b[1] == title), None)


def _is_list_row(messages: list[dict], row_id: str) -> bool:
    for m in reversed(messages):
        action = (m.get("interactive") or {}).get("action") or {}
        if any(r["id"] == row_id for s in action.get("sections", []) for r in s["rows"]):
            return True
    return False


# -- accounting for every reply ---------------------------------------------------------------
def account(engine, conversations: list, chats: dict[str, Chats]) -> tuple[Counter, list[str]]:
    """Lost, duplicated and out-of-order replies in the push channels' chats, from the reply
    rows of her messages (reply_to_id) and what arrived in the fake chat, with examples.

    A row's external id is the platform's id of its first message; the parts that follow it
    (a long text split, WhatsApp's text then its buttons) arrive right after it, her sends
    going out one after another. A message matching no row is such a part, or, when it repeats
    what already arrived for the same message of hers, a row sent again: duplicated. Two rows
    with the same text (a notice in the first answer and again in a late one) are only noted.
    Only the push channels: a REST answer is one HTTP response."""
    result: Counter = Counter()
    examples: list[str] = []
    mine = [ext for channel, _, ids in conversations if channel != "rest" for ext in ids]
    replies_of: dict[str, list[tuple]] = defaultdict(list)
    out = aliased(Message)
    with engine.connect() as conn:
        for i in range(0, len(mine), 500):
            stmt = (
                select(Message.external_id, out.status, out.external_id, out.kind)
                .join(out, out.reply_to_id == Message.id)
                .where(Message.direction == "in", Message.external_id.in_(mine[i : i + 500]))
                .order_by(out.id)
            )
            for ext, status, row_ext, kind in conn.execute(stmt):
                replies_of[ext].append((status, row_ext, kind))

    def note(problem: str, where: str, text: str = "") -> None:
        result[problem] += 1
        if len(examples) < 12:
            examples.append(f"{problem}: {where} {text[:70]!r}")

    for channel, chat, ids in conversations:
        if channel == "rest":
            continue
        records = chats[channel].of(chat)
        platform_id = (
            (lambda m: f"tg:{m['message_id']}") if channel == "telegram" else (lambda m: m["id"])
        )
        arrived = {platform_id(m) for m in records}
        turn_of = {}
        for k, ext in enumerate(ids):
            for status, row_ext, kind in replies_of[ext]:
                where = f"{channel} {chat} message {k + 1} reply ({kind})"
                if status not in SENT:
                    note(f"lost ({status})", where)
                elif row_ext not in arrived:
                    note("lost (sent, not in her chat)", where)
                else:
                    turn_of[row_ext] = k
        current, highest, seen = None, -1, {}
        for m in records:
            first_part = platform_id(m) in turn_of
            k = turn_of[platform_id(m)] if first_part else current
            where = f"{channel} {chat} message {(k or 0) + 1}"
            if k is None:
                note("duplicated (no row sent it)", where, record_text(m))
                continue
            current = k
            if k < highest:
                note("out of order", where, record_text(m))
            highest = max(highest, k)
            key = (k, record_text(m), tuple(record_buttons(m)))
            if key in seen:
                # both the first message of a row: two rows. Otherwise one was a row sent again
                # (its row keeps the id of the last send only)
                if first_part and seen[key]:
                    note("same text from two rows (noted only)", where, record_text(m))
                else:
                    note("duplicated", where, record_text(m))
            seen[key] = first_part
    return result, examples


# -- memory and CPU of each process with its children ----------------------------------------
def _processes() -> dict[int, tuple[int, int, float]]:
    """pid -> (parent pid, resident bytes, CPU seconds), with psutil where installed."""
    try:
        import psutil
    except ImportError:
        psutil = None
    out = {}
    if psutil is not None:
        for p in psutil.process_iter():
            try:
                with p.oneshot():
                    out[p.pid] = (p.ppid(), p.memory_info().rss, sum(p.cpu_times()[:2]))
            except psutil.Error:
                continue
        return out
    page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after "(name)": state ppid ... utime stime (fields 14, 15) ... rss (24, in pages)
        out[int(d)] = (
            int(fields[1]),
            int(fields[21]) * page,
            (int(fields[11]) + int(fields[12])) / tick,
        )
    return out


def _proc_tree(roots: dict[str, int]) -> dict[str, tuple[int, float]]:
    """name -> (resident bytes, CPU seconds) of each root process and its descendants, a
    descendant that is itself a root (the stack's processes are this one's children) apart."""
    procs = _processes()
    children = defaultdict(list)
    for pid, (ppid, _, _) in procs.items():
        children[ppid].append(pid)
    others = set(roots.values())
    out = {}
    for name, root in roots.items():
        rss, cpu, todo = 0, 0.0, [root]
        while todo:
            pid = todo.pop()
            _, r, c = procs.get(pid, (0, 0, 0.0))
            rss, cpu = rss + r, cpu + c
            todo.extend(p for p in children[pid] if p not in others)
        out[name] = (rss, cpu)
    return out


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy so far, all cores (/proc/stat)."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class Sampler(threading.Thread):
    """Every second, while `label` is set: each process's RSS (its peak is kept) and the time
    the action server takes to answer GET /health, which the gateway asks after every Rasa
    answer with a 1 s timeout (bot/core/rasa_client.py ActionServerProbe)."""

    def __init__(self, roots: dict[str, int], health_url: str):
        super().__init__(daemon=True)
        self.roots, self.health_url, self.label = roots, health_url, None
        self.peaks: dict = defaultdict(lambda: defaultdict(int))
        self.health_ms: dict = defaultdict(list)
        self.done = threading.Event()

    def sample(self) -> dict[str, tuple[int, float]]:
        return _proc_tree(self.roots)

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self.done.wait(1.0):
                label = self.label
                if label is None:
                    continue
                for name, (rss, _) in self.sample().items():
                    self.peaks[label][name] = max(self.peaks[label][name], rss)
                start = time.monotonic()
                try:
                    http.get(self.health_url)
                    self.health_ms[label].append((time.monotonic() - start) * 1000)
                except httpx.HTTPError:
                    self.health_ms[label].append(10_000.0)


def log_reasons(path: Path, offset: int) -> tuple[Counter, int]:
    """The gateway's warnings and errors logged since `offset`, digits masked, counted: why
    an answer was "a technical problem" (e.g. "kept pending: action server down")."""
    if not path.exists():
        return Counter(), offset
    with path.open("rb") as f:
        f.seek(offset)
        new = f.read().decode(errors="replace")
    reasons: Counter = Counter()
    for line in new.splitlines():
        match = re.search(r" (WARNING|ERROR|CRITICAL) ([\w.]+): (.*)", line)
        if match:
            reasons[f"{match[1]} {match[2]}: {re.sub(r'[0-9]+', 'N', match[3])[:90]}"] += 1
    return reasons, offset + len(new.encode())


# -- one run: the steps ----------------------------------------------------------------------
def _pcts(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    return {f"p{p}": round(percentile(values, p)) for p in (50, 95, 99)}


def summarize(turns: list[Turn], elapsed: float) -> dict:
    ok = [t.latency_ms for t in turns if t.latency_ms is not None]
    errors = Counter(t.error for t in turns if t.error)
    return {
        "messages": len(turns),
        "answered": len(ok),
        "answered_per_s": round(len(ok) / elapsed, 2) if elapsed else 0.0,
        "errors": sum(errors.values()),
        "error_rate": round(sum(errors.values()) / len(turns), 4) if turns else 0.0,
        "error_kinds": dict(errors),
        "latency_ms": _pcts(ok),
        "webhook_ms": _pcts([t.webhook_ms for t in turns if t.webhook_ms is not None]),
        "kinds": dict(Counter(t.kind for t in turns)),
        "by_kind_ms": {
            kind: _pcts([t.latency_ms for t in turns if t.kind == kind and t.latency_ms])
            for kind in sorted({t.kind for t in turns})
        },
    }


async def drive(stack: Stack, tg, wa, content: Content, args, sampler: Sampler) -> list[dict]:
    engine = make_engine(stack.database_url or "")
    completion = Completion(engine)
    most = max(args.users)
    limits = httpx.Limits(max_connections=most + 10, max_keepalive_connections=most + 10)
    steps = []
    async with httpx.AsyncClient(limits=limits) as http:
        load = Load(
            url=stack.gateway_url,
            http=http,
            tg=tg,
            wa=wa,
            tg_chats=Chats(tg.sent, lambda m: m["chat_id"]),
            wa_chats=Chats(wa.sent, lambda m: m["to"]),
            completion=completion,
            content=content,
            timeout=args.timeout,
            think_s=args.think,
        )
        chats = {"telegram": load.tg_chats, "whatsapp": load.wa_chats}
        poller = asyncio.create_task(completion.run())
        # warm-up, not counted: a few women until each channel has answered once
        warm = random.Random(args.seed)
        await asyncio.gather(*(load.woman(0, warm, time.monotonic() + 10) for _ in range(3)))
        gateway_log = stack.log_dir / "gateway.log"
        _, log_at = log_reasons(gateway_log, 0)
        for step, users in enumerate(args.users, 1):
            load.conversations.clear()
            first_turn = len(load.turns)
            cpu_before, machine_before = sampler.sample(), machine_cpu()
            sampler.label = users
            start = time.monotonic()
            end = start + args.duration
            ramp = min(10.0, args.duration / 6)

            async def slot(u: int, rng: random.Random, step=step, end=end, users=users, ramp=ramp):
                await asyncio.sleep(ramp * u / users)  # women arrive over the first seconds
                await load.woman(step, rng, end)

            rngs = [random.Random(args.seed * 1_000_003 + step * 10_007 + u) for u in range(users)]
            print(f"  {users} women for {args.duration:.0f} s ...", flush=True)
            await asyncio.gather(*(slot(u, rngs[u]) for u in range(users)))
            elapsed = time.monotonic() - start
            sampler.label = None
            cpu_after, machine_after = sampler.sample(), machine_cpu()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and await asyncio.to_thread(undelivered, engine):
                await asyncio.sleep(0.5)
            await asyncio.sleep(3)  # anything that still arrives is counted below
            checks, examples = await asyncio.to_thread(
                account, engine, list(load.conversations), chats
            )
            turns = load.turns[first_turn:]
            reasons, log_at = log_reasons(gateway_log, log_at)
            result = {
                "users": users,
                "elapsed_s": round(elapsed, 1),
                "all": summarize(turns, elapsed),
                "channels": {
                    c: summarize([t for t in turns if t.channel == c], elapsed) for c in CHANNELS
                },
                "checks": dict(checks),
                "check_examples": examples,
                "gateway_log": dict(reasons.most_common(8)),
                "lost": sum(v for k, v in checks.items() if k.startswith("lost")),
                "duplicated": sum(v for k, v in checks.items() if k.startswith("duplicated")),
                "out_of_order": checks.get("out of order", 0),
                "peak_rss_mb": {
                    k: round(v / 2**20) for k, v in sorted(sampler.peaks[users].items())
                },
                "cpu_percent": {
                    k: round(100 * (cpu_after[k][1] - cpu_before[k][1]) / elapsed)
                    for k in sorted(cpu_after)
                },
                # every process on the machine, % of one core: the rest is other people's work
                "machine_cpu_percent": round(100 * (machine_after - machine_before) / elapsed),
                "action_health_ms": {
                    **_pcts(sampler.health_ms[users]),
                    "over_1s": sum(v > 1000 for v in sampler.health_ms[users]),
                    "n": len(sampler.health_ms[users]),
                },
            }
            steps.append(result)
            a = result["all"]
            print(
                f"    {a['messages']} messages, {a['answered_per_s']}/s answered, "
                f"errors {a['errors']} {a['error_kinds']}, p50/p95 "
                f"{a['latency_ms']['p50']}/{a['latency_ms']['p95']} ms, lost {result['lost']}, "
                f"duplicated {result['duplicated']}, out of order {result['out_of_order']}",
                flush=True,
            )
            await asyncio.sleep(5)  # rest between steps
        poller.cancel()
    engine.dispose()
    return steps


# -- the report ----------------------------------------------------------------------------------
def knee(steps: list[dict]) -> str:
    """Where p95 first grows sharply (more than doubles from one step to the next), and
    where throughput stops growing with the number of women."""
    lines = []
    p95 = [s["all"]["latency_ms"]["p95"] for s in steps]
    rate = [s["all"]["answered_per_s"] for s in steps]
    users = [s["users"] for s in steps]
    sharp = next(
        (i for i in range(1, len(steps)) if p95[i] and p95[i - 1] and p95[i] > 2 * p95[i - 1]),
        None,
    )
    if sharp is None:
        lines.append("p95 never more than doubles from one step to the next: no knee seen.")
    else:
        lines.append(
            f"Knee: p95 grows from {p95[sharp - 1] / 1000:.1f} s to {p95[sharp] / 1000:.1f} s "
            f"between {users[sharp - 1]} and {users[sharp]} women."
        )
    flat = next(
        (
            i
            for i in range(1, len(steps))
            if rate[i] < 1.25 * rate[i - 1] and users[i] > users[i - 1]
        ),
        None,
    )
    if flat is not None:
        lines.append(
            f"Throughput stops growing between {users[flat - 1]} and {users[flat]} women "
            f"({rate[flat - 1]} -> {rate[flat]} answered messages/s): the stack is saturated."
        )
    return " ".join(lines)


def _s(ms) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f}"


def markdown(report: dict) -> str:
    steps, names = report["steps"], sorted(report["rest_rss_mb"])
    out = [
        "# Load and capacity (bench/load.py)",
        "",
        f"{report['when']}, commit {report['commit']}, {report['machine']}. "
        f"{report['duration_s']:.0f} s per step, think time {report['think_s']} s "
        f"(0.5-1.5x between messages), timeout {report['timeout_s']:.0f} s, database "
        f"{report['database']}. Load average before the run: {report['loadavg']}.",
        "",
        f"Start-up to healthy: {report['startup_s']} s; first answer after that: "
        f"{report['first_answer_ms']} ms.",
        "",
        "| users | messages | answered/s | error rate | lost | duplicated | out of order "
        "| p50 s | p95 s | p99 s | " + " | ".join(f"peak RSS {n} MB" for n in names) + " |",
        "|" + "---|" * (10 + len(names)),
    ]
    for s in steps:
        a = s["all"]
        lat = a["latency_ms"]
        out.append(
            f"| {s['users']} | {a['messages']} | {a['answered_per_s']} | "
            f"{100 * a['error_rate']:.1f}% | {s['lost']} | {s['duplicated']} | "
            f"{s['out_of_order']} | {_s(lat['p50'])} | {_s(lat['p95'])} | {_s(lat['p99'])} | "
            + " | ".join(str(s["peak_rss_mb"].get(n, "-")) for n in names)
            + " |"
        )
    out += [
        "| at rest, before | | | | | | | | | | "
        + " | ".join(str(report["rest_rss_mb"][n]) for n in names)
        + " |",
        "| at rest, after | | | | | | | | | | "
        + " | ".join(str(report["rest_after_rss_mb"].get(n, "-")) for n in names)
        + " |",
        "",
        knee(steps),
        "",
        "Per channel (latency: REST to the HTTP answer; Telegram and WhatsApp to the last reply "
        "in the fake chat, including the delivery worker and Telegram's per-chat pacing of "
        "about one message a second with bursts of four; webhook: POST to 200, which the "
        "gateway sends once her replies are stored):",
        "",
        "| users | channel | messages | errors | p50 s | p95 s | p99 s | webhook p50 s "
        "| webhook p95 s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in steps:
        for c, a in s["channels"].items():
            lat, hook = a["latency_ms"], a["webhook_ms"]
            out.append(
                f"| {s['users']} | {c} | {a['messages']} | {a['errors']} | {_s(lat['p50'])} | "
                f"{_s(lat['p95'])} | {_s(lat['p99'])} | {_s(hook['p50'])} | {_s(hook['p95'])} |"
            )
    out += ["", "Per step (CPU: % of one core, each process with its children):", ""]
    for s in steps:
        a, health = s["all"], s["action_health_ms"]
        by = a["by_kind_ms"]
        kinds = ", ".join(
            f"{k} {n} (p50 {_s(by[k]['p50'])} s, p95 {_s(by[k]['p95'])} s)"
            for k, n in sorted(a["kinds"].items())
        )
        out += [
            f"- **{s['users']} women**, {s['elapsed_s']} s. Messages: {kinds}.",
            f"  Errors: {a['error_kinds'] or 'none'}. Checks: {s['checks'] or 'all clean'}.",
            f"  CPU: {s['cpu_percent']}; the whole machine {s['machine_cpu_percent']}.",
            f"  Action server GET /health, once a second: p50 {health['p50']} ms, p95 "
            f"{health['p95']} ms, {health['over_1s']} of {health['n']} over 1 s.",
            f"  Gateway warnings: {s['gateway_log'] or 'none'}.",
        ]
        out += [f"  - {e}" for e in s["check_examples"]]
    return "\n".join(out) + "\n"


def plot(steps: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    users = [s["users"] for s in steps]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for p, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-")):
        values = [s["all"]["latency_ms"][p] for s in steps]
        left.plot(users, [v / 1000 if v else float("nan") for v in values], style, label=p)
    left.set(xlabel="simultaneous women", ylabel="latency to last reply (s)", xscale="log")
    left.set_title("Latency, all channels")
    left.legend()
    right.plot(users, [s["all"]["answered_per_s"] for s in steps], "o-", label="answered/s")
    right.set(xlabel="simultaneous women", ylabel="answered messages/s", xscale="log")
    right.set_title("Throughput and errors")
    errors = right.twinx()
    errors.plot(users, [100 * s["all"]["error_rate"] for s in steps], "x--", color="tab:red")
    errors.set_ylabel("error rate (%)", color="tab:red")
    errors.set_ylim(bottom=0)
    for ax in (left, right):
        ax.set_xticks(users, [str(u) for u in users])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    left.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, format="svg")
    plt.close(fig)


# -- main ------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--users", default="10,50,200", help="women at once, per step")
    parser.add_argument("--duration", type=float, default=60, help="seconds per step")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "reports" / "load")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default SQLite)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds for one answer")
    parser.add_argument("--think", type=float, default=1.0, help="think time, seconds")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    args.users = [int(x) for x in str(args.users).split(",")]
    content = Content.load()
    args.out.mkdir(parents=True, exist_ok=True)
    logs = args.out / "logs"  # kept: the evidence for any error in the report
    logs.mkdir(exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    tg, wa = FakeTelegram(), FakeWhatsApp()
    report: dict = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {sys.version.split()[0]}",
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "duration_s": args.duration,
        "think_s": args.think,
        "timeout_s": args.timeout,
        "database": "PostgreSQL" if args.database_url else "SQLite (fresh)",
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(tg.app) as tg_url,
        serve(wa.app) as wa_url,
    ):
        stack = Stack(
            ports=Ports(free_port(), free_port(), free_port()),
            database_url=args.database_url or f"sqlite:///{tmp}/load.db",
            log_dir=logs,
            extra_env={
                "TELEGRAM_MODE": "webhook",
                "TELEGRAM_TOKEN": tg.token,
                "TELEGRAM_SECRET": SECRET,
                "TELEGRAM_API_URL": tg_url,
                "WHATSAPP_TOKEN": wa.token,
                "WHATSAPP_APP_SECRET": wa.app_secret,
                "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
                "WHATSAPP_API_VERSION": VERSION,
                "WHATSAPP_API_URL": wa_url,
                "DATA_KEYS": Fernet.generate_key().decode(),  # not the developer's var/data.key
            },
        )
        print("Starting the stack ...", flush=True)
        started = time.monotonic()
        stack.start()
        sampler = Sampler(
            {n: p.pid for n, p in stack.procs.items()} | {"load": os.getpid()},
            f"{stack.action_url}/health",
        )
        try:
            stack.wait_healthy(timeout_s=300)
            report["startup_s"] = round(time.monotonic() - started, 1)
            t = time.monotonic()
            httpx.post(
                f"{stack.gateway_url}/webhooks/rest/webhook",
                json={"sender": "load-first", "message": content.questions["en"][0]},
                timeout=60,
            ).raise_for_status()
            report["first_answer_ms"] = round((time.monotonic() - t) * 1000)
            time.sleep(5)
            report["rest_rss_mb"] = {k: round(v[0] / 2**20) for k, v in sampler.sample().items()}
            sampler.start()
            report["steps"] = asyncio.run(drive(stack, tg, wa, content, args, sampler))
            report["rest_after_rss_mb"] = {
                k: round(v[0] / 2**20) for k, v in sampler.sample().items()
            }
        except BaseException:
            for name in stack.procs:
                print(f"--- {name}\n{stack.tail(name)}", file=sys.stderr)
            raise
        finally:
            sampler.done.set()
            stack.stop()
    (args.out / "load.json").write_text(json.dumps(report, indent=2))
    (args.out / "load.md").write_text(markdown(report))
    plot(report["steps"], args.out / "load.svg")
    print(markdown(report))
    print(f"Written: {args.out}/load.md, load.svg, load.json")
    bad = sum(s["lost"] + s["duplicated"] + s["out_of_order"] for s in report["steps"])
    if bad:
        print(f"FAILED: {bad} replies lost, duplicated or out of order", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
