"""Load run of the Telegram and WhatsApp webhooks: nothing lost, nothing duplicated.

    .venv/bin/python -m bench.connectors [--users 200] [--messages 5] [--concurrency 32]
                                         [--duplicates 0.2] [--rasa-delay-ms 10]

The gateway runs as its own process (`python -m gateway.app`, SQLite in a temporary folder, its
delivery worker and the platforms' rate limits as in production). This process serves a fake
Telegram Bot API, a fake WhatsApp Graph API and a scripted Rasa that echoes each message after
`--rasa-delay-ms` (about what NLU plus a small action cost), and drives the webhooks: every
woman sends `--messages` messages in order; a share of the updates is delivered twice, as
the platforms do after a timeout, some of them concurrently with the first delivery.

At the end every message must have exactly one answer in the right chat, in the order she
wrote. Printed: webhook throughput, webhook latency (POST -> 200) and the time from her
message to the answer arriving in the fake chat, p50/p95. Per-chat rate limits (Telegram
about 1 a second per chat with short bursts) shape the last figure by design.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.run import percentile
from tests.support.fake_rasa import FakeActions, FakeRasa
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_whatsapp import PHONE_NUMBER_ID, VERSION, FakeWhatsApp
from tests.support.servers import free_port, serve

REPO = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-token"


def _start_gateway(
    tmp: Path, port: int, rasa_url: str, actions_url: str, tg_url: str, wa_url: str
) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "HASH_KEY": "bench-key",
        "RASA_URL": rasa_url,
        "ACTION_SERVER_URL": actions_url,
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_TOKEN": "123456:TEST-token",
        "TELEGRAM_SECRET": SECRET,
        "TELEGRAM_API_URL": tg_url,
        "WHATSAPP_TOKEN": "EAAG-test-token",
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_APP_SECRET": "app-secret",
        "WHATSAPP_API_URL": wa_url,
        "WHATSAPP_API_VERSION": VERSION,
        "OPENBLAS_NUM_THREADS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.app"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "gateway.log", "w"),
    )


def _wait_up(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the gateway exited; see its log")
        try:
            httpx.get(f"{url}/health", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("the gateway did not start")


async def _drive(
    url: str,
    tg: FakeTelegram,
    wa: FakeWhatsApp,
    users: int,
    messages: int,
    concurrency: int,
    duplicates: float,
) -> dict:
    rng = random.Random(7)
    jobs = []  # (channel, user, index, request kwargs)
    for u in range(users):
        for i in range(messages):
            text = f"user {u} message {i}"
            if u % 2 == 0:
                chat = 10_000 + u
                update = tg.text_update(chat, text)
                jobs.append(
                    (
                        "telegram",
                        chat,
                        i,
                        {
                            "url": f"{url}/webhooks/telegram",
                            "json": update,
                            "headers": {"x-telegram-bot-api-secret-token": SECRET},
                        },
                    )
                )
            else:
                wa_id = f"45{20_000_000 + u}"
                body, headers = wa.signed(wa.text(wa_id, text))
                jobs.append(
                    (
                        "whatsapp",
                        wa_id,
                        i,
                        {"url": f"{url}/webhooks/whatsapp", "content": body, "headers": headers},
                    )
                )
    # Each woman's messages stay in order; women interleave. Redeliveries follow the first
    # delivery of the same update, some at once (racing it), some later.
    per_user: dict = {}
    for job in jobs:
        per_user.setdefault((job[0], job[1]), []).append(job)
    lanes = list(per_user.values())
    sent_at: dict = {}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    semaphore = asyncio.Semaphore(concurrency)
    extra = 0

    async with httpx.AsyncClient(
        timeout=60, limits=httpx.Limits(max_connections=concurrency)
    ) as http:

        async def post(key, kwargs):
            async with semaphore:
                start = time.perf_counter()
                sent_at.setdefault(key, start)  # her message leaves her phone now
                r = await http.post(**kwargs)
                latencies.append((time.perf_counter() - start) * 1000)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        async def lane(items):
            nonlocal extra
            for channel, user, i, kwargs in items:
                key = (channel, user, i)
                if rng.random() < duplicates / 2:  # a redelivery racing the first delivery
                    extra += 1
                    await asyncio.gather(post(key, kwargs), post(key, kwargs))
                else:
                    await post(key, kwargs)
                if rng.random() < duplicates / 2:  # a late redelivery
                    extra += 1
                    await post(key, kwargs)

        start = time.perf_counter()
        await asyncio.gather(*(lane(items) for items in lanes))
        webhook_s = time.perf_counter() - start
    return {
        "jobs": jobs,
        "sent_at": sent_at,
        "latencies": latencies,
        "statuses": statuses,
        "webhook_s": webhook_s,
        "redeliveries": extra,
    }


def _check(
    tg: FakeTelegram, wa: FakeWhatsApp, run: dict, users: int, messages: int, timeout_s: float
) -> dict:
    expected = len(run["jobs"])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(tg.sent) + len(wa.sent) < expected:
        time.sleep(0.1)
    time.sleep(2)  # anything still coming would be a duplicate
    arrived: dict = {}
    for m in tg.sent:
        arrived.setdefault(("telegram", m["chat_id"]), []).append((m["text"], m["at"]))
    for m in wa.sent:
        arrived.setdefault(("whatsapp", m["to"]), []).append((m["text"]["body"], m["at"]))
    lost = duplicated = disordered = 0
    e2e = []
    for (channel, user), items in arrived.items():
        texts = [t for t, _ in items]
        u = int(user) - 10_000 if channel == "telegram" else int(user) - 4520_000_000
        want = [f"echo: user {u} message {i}" for i in range(messages)]
        duplicated += len(texts) - len(set(texts))
        lost += len(set(want) - set(texts))
        if [t for t in texts if t in want] != want[: len(texts)]:
            disordered += 1
        for text, at in items:
            key = (channel, user, int(text.rsplit(" ", 1)[-1]))
            if key in run["sent_at"]:
                e2e.append((at - run["sent_at"][key]) * 1000)
    lost += (users - len(arrived)) * messages
    return {
        "expected": expected,
        "arrived": len(tg.sent) + len(wa.sent),
        "lost": lost,
        "duplicated": duplicated,
        "chats_out_of_order": disordered,
        "e2e_ms": e2e,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duplicates", type=float, default=0.2)
    parser.add_argument("--rasa-delay-ms", type=float, default=10)
    args = parser.parse_args()

    rasa, actions, tg, wa = FakeRasa(), FakeActions(), FakeTelegram(), FakeWhatsApp()
    rasa.delay_s = args.rasa_delay_ms / 1000
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(rasa.app) as rasa_url,
        serve(actions.app) as actions_url,
        serve(tg.app) as tg_url,
        serve(wa.app) as wa_url,
    ):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = _start_gateway(Path(tmp), port, rasa_url, actions_url, tg_url, wa_url)
        try:
            _wait_up(url, proc)
            run = asyncio.run(
                _drive(url, tg, wa, args.users, args.messages, args.concurrency, args.duplicates)
            )
            result = _check(tg, wa, run, args.users, args.messages, timeout_s=120)
        except BaseException:
            print((Path(tmp) / "gateway.log").read_text()[-5000:], file=sys.stderr)
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    posts = len(run["latencies"])
    report = {
        "users": args.users,
        "messages_each": args.messages,
        "concurrency": args.concurrency,
        "webhook_posts": posts,
        "redeliveries": run["redeliveries"],
        "http_statuses": run["statuses"],
        "webhook_throughput_per_s": round(posts / run["webhook_s"], 1),
        "webhook_ms_p50": round(percentile(run["latencies"], 50), 1),
        "webhook_ms_p95": round(percentile(run["latencies"], 95), 1),
        "answer_in_chat_ms_p50": round(percentile(result["e2e_ms"], 50), 1),
        "answer_in_chat_ms_p95": round(percentile(result["e2e_ms"], 95), 1),
        "expected_answers": result["expected"],
        "answers_arrived": result["arrived"],
        "lost": result["lost"],
        "duplicated": result["duplicated"],
        "chats_out_of_order": result["chats_out_of_order"],
    }
    print(json.dumps(report, indent=2))
    if result["lost"] or result["duplicated"] or result["chats_out_of_order"]:
        raise SystemExit("FAILED: messages lost, duplicated or out of order")


if __name__ == "__main__":
    main()
