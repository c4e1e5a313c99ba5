"""Retrieval benchmark: index build time, query latency and memory, on this machine.

    .venv/bin/python -m bench.retrieval [-n 500] [--saved]

Queries are the labelled evaluation questions (tests/eval), one at a time, after a warm-up:
the latency a woman's question sees inside the action server. Target (issue 3): p95 <= 30 ms.
`query_ms` is the whole search; `scoring_ms` is the part after the model has encoded the
question (dense top rows, BM25, character n-grams, region), which is what the scoring code
adds to the model's own time. `--saved` loads var/index instead of timing a fresh build.
On a machine shared with other work, compare figures only from the same run.
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
    parser.add_argument("--saved", action="store_true", help="load var/index, do not build")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    kb = load()
    model = model_store.load()
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    index = Index.load_or_build(kb, model) if args.saved else Index.build(kb, model)
    built = time.perf_counter() - start

    cases = load_cases()
    for case in cases[:20]:
        index.search(case.question, case.lang)
    chosen = (cases * (args.n // len(cases) + 1))[: args.n]
    times = []
    for case in chosen:
        t0 = time.perf_counter()
        hits = index.search(case.question, case.lang)
        index.nearest_gap(case.question, case.lang, hits)  # on the answer path too
        times.append((time.perf_counter() - t0) * 1000)
    vectors = index.encode([c.question for c in chosen])
    scoring = []
    for case, vector in zip(chosen, vectors, strict=True):
        t0 = time.perf_counter()
        hits = index.search_encoded(vector, case.question, case.lang)
        index.nearest_gap_encoded(vector, case.lang, hits)
        scoring.append((time.perf_counter() - t0) * 1000)
    print(
        json.dumps(
            {
                "entries": len(kb.entries),
                "index_rows": int(len(index.row_entry)),
                "load_kb_and_model_s": round(loaded, 1),
                ("index_load_s" if args.saved else "index_build_s"): round(built, 1),
                "query_ms": {
                    "p50": round(percentile(times, 50), 1),
                    "p95": round(percentile(times, 95), 1),
                    "n": len(times),
                },
                "scoring_ms": {
                    "p50": round(percentile(scoring, 50), 2),
                    "p95": round(percentile(scoring, 95), 2),
                },
                "max_rss_mb": round(rss_mb()),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
