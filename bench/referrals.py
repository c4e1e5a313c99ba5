"""Referral queue benchmark: claim throughput, and how fast her request reaches the workspace.

    .venv/bin/python -m bench.referrals                 # SQLite, and PostgreSQL if reachable
    .venv/bin/python -m bench.referrals --cases 400 --counsellors 1 5 20 --handoffs 50

claims/s   N counsellors (threads, each with its own session and connection) claim from a
           queue of waiting cases until it is empty; each claim is one claim_next + commit.
           Checked on the way: no case claimed twice, every case claimed.
handoff    a REST message whose (scripted) Rasa answer asks for a handoff -> the gateway
           creates the case and answers her -> the case is listed by the queue's JSON endpoint
           (/workspace/queue.json, what the open queue page polls) for a logged-in counsellor.
           Reported: the REST round trip, and request-to-listed; the page itself polls every
           4 s, which adds up to 4 s before a counsellor's screen shows it.

PostgreSQL: TEST_DATABASE_URL or postgresql://postgres@127.0.0.1:5432/test (a temporary
schema is created and dropped).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from bot.referrals import claim_next, create_case
from bot.referrals.models import Case, User
from bot.settings import Settings
from bot.storage.db import make_engine, migrate
from bot.storage.models import Contact
from bot.workspace import auth
from common import contracts
from gateway.app import create_app
from tests.support.servers import serve

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = "bench password"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# -- claim throughput -----------------------------------------------------------------------------
def claim_throughput(url: str, n_cases: int, n_counsellors: int) -> dict:
    engine = make_engine(url)
    t0 = datetime.now(UTC) - timedelta(hours=1)
    with Session(engine) as db:
        db.execute(text("delete from cases"))
        db.execute(text("delete from users"))
        for i in range(n_cases):
            c = Contact(channel="telegram", user_hash=uuid.uuid4().hex, language="ar")
            db.add(c)
            db.flush()
            create_case(
                db,
                c,
                topic="violence",
                language="ar",
                priority=("emergency", "high", "normal")[i % 3],
                woman_counsellor=None,
                contact_later=False,
                now=t0 + timedelta(seconds=i),
            )
        # argon2 on purpose is slow; counsellors here never log in
        for i in range(n_counsellors):
            db.add(
                User(
                    username=f"bench{i}",
                    password_hash="-",
                    role="counsellor",
                    languages="ar",
                    is_woman=True,
                )
            )
        db.commit()
        ids = list(db.scalars(select(User.id)))
    claimed: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n_counsellors + 1)

    def work(uid: int):
        barrier.wait()
        while True:
            with Session(engine) as db:
                case = claim_next(db, db.get(User, uid))
                case_id = case.id if case is not None else None
                db.commit()
            if case_id is None:
                return
            with lock:
                claimed.append(case_id)

    threads = [threading.Thread(target=work, args=(u,)) for u in ids]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    engine.dispose()
    assert len(claimed) == len(set(claimed)) == n_cases, "double or missing claims"
    return {
        "counsellors": n_counsellors,
        "cases": n_cases,
        "seconds": elapsed,
        "claims_per_s": n_cases / elapsed,
    }


# -- her request to the workspace -----------------------------------------------------------------
def _fake_rasa() -> FastAPI:
    app = FastAPI()

    @app.post("/webhooks/rest/webhook")
    async def webhook(request: Request):
        body = await request.json()
        handoff = contracts.Handoff(topic="violence", language="ar", woman_counsellor=True)
        return [{"recipient_id": body["sender"], "custom": contracts.to_custom(handoff)}]

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/status")
    async def status():
        return {"model_file": "bot.tar.gz"}

    return app


def handoff_latency(url: str, n: int) -> dict:
    migrate(url)
    engine = make_engine(url)
    with Session(engine) as db:
        db.execute(text("delete from cases"))
        db.execute(text("delete from users"))
        auth.create_user(db, "amal", PASSWORD, languages="ar", is_woman=True)
        db.commit()
    with serve(_fake_rasa()) as rasa_url:
        settings = Settings(
            hash_key="bench",
            database_url=url,
            rasa_url=rasa_url,
            action_server_url=rasa_url,
            rasa_timeout_s=5,
        )
        with serve(create_app(settings)) as gw:
            client = httpx.Client(base_url=gw, timeout=10)
            page = client.get("/workspace/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            r = client.post(
                "/workspace/login", data={"username": "amal", "password": PASSWORD, "csrf": csrf}
            )
            assert r.status_code == 303, r.text
            rest, listed = [], []
            for i in range(n + 3):
                sender = f"bench-{uuid.uuid4().hex[:8]}"
                t0 = time.perf_counter()
                r = httpx.post(
                    f"{gw}/webhooks/rest/webhook",
                    timeout=10,
                    json={"sender": sender, "message": "أريد التحدث مع امرأة"},
                )
                t1 = time.perf_counter()
                assert r.status_code == 200, r.text
                with Session(engine) as db:
                    before = db.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
                assert before is not None, (
                    "the gateway created no case: is the pipeline "
                    "wired to bot.referrals (contracts.md)?"
                )
                while True:
                    ids = {c["id"] for c in client.get("/workspace/queue.json").json()["cases"]}
                    if before in ids:
                        break
                t2 = time.perf_counter()
                if i >= 3:  # warm-up
                    rest.append((t1 - t0) * 1000)
                    listed.append((t2 - t0) * 1000)
    engine.dispose()
    return {
        "n": n,
        "rest_p50_ms": statistics.median(rest),
        "rest_p95_ms": percentile(rest, 95),
        "listed_p50_ms": statistics.median(listed),
        "listed_p95_ms": percentile(listed, 95),
    }


def _postgres() -> tuple[str, callable] | None:
    server = os.environ.get("TEST_DATABASE_URL", PG_DEFAULT)
    if server.startswith("postgresql://"):
        server = "postgresql+psycopg://" + server[len("postgresql://") :]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(server)
        with admin.begin() as conn:
            conn.execute(text(f'create schema "{schema}"'))
    except Exception as exc:
        print(f"PostgreSQL not reachable ({exc.__class__.__name__}); SQLite only")
        return None

    def drop():
        with admin.begin() as conn:
            conn.execute(text(f'drop schema "{schema}" cascade'))
        admin.dispose()

    sep = "&" if "?" in server else "?"
    return f"{server}{sep}options=-csearch_path%3D{schema}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--counsellors", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--handoffs", type=int, default=40)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", None)]
        pg = _postgres()
        if pg:
            targets.append(("PostgreSQL", pg[0], pg[1]))
        try:
            for name, url, _ in targets:
                migrate(url)
                for n in args.counsellors:
                    r = claim_throughput(url, args.cases, n)
                    print(
                        f"{name:10} claims   {n:3d} counsellors  {r['claims_per_s']:8.0f} "
                        f"claims/s  ({r['cases']} cases in {r['seconds']:.2f} s)"
                    )
                h = handoff_latency(url, args.handoffs)
                print(
                    f"{name:10} handoff  REST round trip p50 {h['rest_p50_ms']:.1f} ms "
                    f"p95 {h['rest_p95_ms']:.1f} ms; request -> listed in queue.json "
                    f"p50 {h['listed_p50_ms']:.1f} ms p95 {h['listed_p95_ms']:.1f} ms "
                    f"(n={h['n']}; the page polls every 4 s)"
                )
        finally:
            for _, _, drop in targets:
                if drop:
                    drop()


if __name__ == "__main__":
    main()
