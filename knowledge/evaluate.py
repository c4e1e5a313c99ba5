"""Retrieval evaluation over the labelled questions in tests/eval/questions/<lang>.yml.

    python -m knowledge.evaluate               # top-1/top-3 per language and topic, decision rates
    python -m knowledge.evaluate --json FILE   # write the figures as JSON too

Decision rates (Index.decide): of answerable questions, how many get a direct answer or the two
best answers (and how many of those are wrong: no answer given is the right one), a question
back (and whether the right entry is among the buttons), or "I don't know"; of unanswerable
ones, how many wrongly get an answer. The probability the decision reads is fitted on this
set (knowledge/confidence.py); its thresholds were chosen on the blind dev half.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.index import Gap, Hit, Index

EVAL_DIR = Path(__file__).resolve().parent.parent / "tests" / "eval" / "questions"


@dataclass(frozen=True)
class Case:
    lang: str
    question: str
    expected: str | None  # None: no entry answers it


def load_cases(directory: Path = EVAL_DIR) -> list[Case]:
    cases = []
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        lang = data["lang"]
        cases += [Case(lang, q["q"], q["entry"]) for q in data.get("questions", [])]
        cases += [Case(lang, q, None) for q in data.get("unanswerable", [])]
    return cases


def run(index: Index, cases: list[Case]) -> list[tuple[Case, list[Hit], Gap | None]]:
    """The top 3 and the nearest gap for every case; the questions are encoded in batches
    (the same vectors as one by one, up to rounding, and many times faster on a busy machine)."""
    vectors = index.encode([c.question for c in cases])
    results = []
    for c, v in zip(cases, vectors, strict=True):
        hits = index.search_encoded(v, c.question, c.lang, k=3)
        results.append((c, hits, index.nearest_gap_encoded(v, c.lang, hits)))
    return results


def summarise(results, kb) -> dict:
    per_lang: dict = defaultdict(lambda: defaultdict(int))
    per_topic: dict = defaultdict(lambda: defaultdict(int))
    for case, hits, gap in results:
        d = Index.decide(hits, case.question, gap)
        answered = d.kind in ("answer", "both")
        given = [h.entry_id for h in d.hits[: 2 if d.kind == "both" else 1]]
        row = per_lang[case.lang]
        if case.expected is None:
            row["unanswerable"] += 1
            row["unanswerable_answered"] += answered
            continue
        topic = per_topic[kb.entries[case.expected].topic]
        ids = [h.entry_id for h in hits]
        for bucket in (row, topic):
            bucket["n"] += 1
            bucket["top1"] += ids[:1] == [case.expected]
            bucket["top3"] += case.expected in ids
        row[d.kind] += 1
        if answered:
            row["answered"] += 1
            row["answer_wrong"] += case.expected not in given
        if d.kind == "clarify":
            row["clarify_contains"] += case.expected in [h.entry_id for h in d.hits]

    def pct(a, b):
        return round(100 * a / b, 1) if b else None

    langs = {}
    for lang, r in sorted(per_lang.items()):
        langs[lang] = {
            "questions": r["n"],
            "top1": pct(r["top1"], r["n"]),
            "top3": pct(r["top3"], r["n"]),
            "answered": pct(r["answered"], r["n"]),
            "two_answers": pct(r["both"], r["n"]),
            "answered_wrong": pct(r["answer_wrong"], r["answered"]),
            "clarified": pct(r["clarify"], r["n"]),
            "clarify_has_right_entry": pct(r["clarify_contains"], r["clarify"]),
            "dont_know": pct(r["none"], r["n"]),
            "unanswerable_given_an_answer": pct(r["unanswerable_answered"], r["unanswerable"]),
        }
    topics = {
        t: {"questions": r["n"], "top1": pct(r["top1"], r["n"]), "top3": pct(r["top3"], r["n"])}
        for t, r in sorted(per_topic.items())
    }
    total = {k: sum(per_lang[lang][k] for lang in per_lang) for k in ("n", "top1", "top3")}
    return {
        "overall": {
            "questions": total["n"],
            "top1": pct(total["top1"], total["n"]),
            "top3": pct(total["top3"], total["n"]),
        },
        "languages": langs,
        "topics": topics,
    }


def print_report(summary: dict) -> None:
    o = summary["overall"]
    print(f"overall: {o['questions']} questions, top-1 {o['top1']}%, top-3 {o['top3']}%\n")
    cols = [
        "questions",
        "top1",
        "top3",
        "answered",
        "two_answers",
        "answered_wrong",
        "clarified",
        "clarify_has_right_entry",
        "dont_know",
        "unanswerable_given_an_answer",
    ]
    print("lang " + " ".join(f"{c[:12]:>12}" for c in cols))
    for lang, row in summary["languages"].items():
        print(f"{lang:4} " + " ".join(f"{'' if row[c] is None else row[c]:>12}" for c in cols))
    print("\ntopic          questions   top1   top3")
    for topic, row in summary["topics"].items():
        print(f"{topic:14} {row['questions']:>9} {row['top1']:>6} {row['top3']:>6}")


def main(argv: list[str] | None = None) -> int:
    from knowledge import model_store
    from knowledge.store import load

    parser = argparse.ArgumentParser(prog="python -m knowledge.evaluate")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    kb = load()
    index = Index.load_or_build(kb, model_store.load())
    results = run(index, load_cases())
    summary = summarise(results, kb)
    print_report(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
