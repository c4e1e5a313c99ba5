"""Retrieval benchmark: index build time, query latency and memory, on this machine.

    .venv/bin/python -m bench.retrieval [-n 500]

Queries are the labelled evaluation questions (tests/eval), one at a time, after a warm-up:
the latency a woman's question sees inside the action server. Target (issue 3): p95 <= 30 ms.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from bench.run import percentile
from knowledge import model_store
from knowledge.evaluate import load_cases
from knowledge.index import Index
from knowledge.store import load


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.retrieval")
    parser.add_argument("-n", type=int, default=500)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    kb = load()
    model = model_store.load()
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    index = Index.build(kb, model)
    built = time.perf_counter() - start

    cases = load_cases()
    for case in cases[:20]:
        index.search(case.question, case.lang)
    times = []
    for case in (cases * (args.n // len(cases) + 1))[: args.n]:
        t0 = time.perf_counter()
        index.search(case.question, case.lang)
        times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({
        "entries": len(kb.entries), "index_rows": int(len(index.row_entry)),
        "load_kb_and_model_s": round(loaded, 1), "index_build_s": round(built, 1),
        "query_ms": {"p50": round(percentile(times, 50), 1),
                     "p95": round(percentile(times, 95), 1), "n": len(times)},
        "max_rss_mb": round(rss_mb()),
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
