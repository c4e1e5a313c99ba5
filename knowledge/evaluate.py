"""Retrieval evaluation over the labelled questions in tests/eval/questions/<lang>.yml.

    python -m knowledge.evaluate               # top-1/top-3 per language and topic, decision rates
    python -m knowledge.evaluate --calibrate   # also search the answer/clarify thresholds
    python -m knowledge.evaluate --json FILE   # write the figures as JSON too

Decision rates: of answerable questions, how many get a direct answer (and how many of those
are wrong), a clarification (and whether the right entry is among the buttons), or "I don't
know"; of unanswerable ones, how many wrongly get a direct answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.index import ANSWER_MARGIN, ANSWER_THRESHOLD, CLARIFY_THRESHOLD, Hit, Index

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


def run(index: Index, cases: list[Case]) -> list[tuple[Case, list[Hit]]]:
    """The top 3 for every case; the questions are encoded in batches (the same vectors as
    one by one, up to rounding, and many times faster on a busy machine)."""
    vectors = index.encode([c.question for c in cases])
    return [
        (c, index.search_encoded(v, c.question, c.lang, k=3))
        for c, v in zip(cases, vectors, strict=True)
    ]


def summarise(results, kb, thresholds=None) -> dict:
    thresholds = thresholds or (ANSWER_THRESHOLD, ANSWER_MARGIN, CLARIFY_THRESHOLD)
    per_lang: dict = defaultdict(lambda: defaultdict(int))
    per_topic: dict = defaultdict(lambda: defaultdict(int))
    for case, hits in results:
        d = Index.decide(hits, *thresholds)
        row = per_lang[case.lang]
        if case.expected is None:
            row["unanswerable"] += 1
            row["unanswerable_answered"] += d.kind == "answer"
            continue
        topic = per_topic[kb.entries[case.expected].topic]
        ids = [h.entry_id for h in hits]
        for bucket in (row, topic):
            bucket["n"] += 1
            bucket["top1"] += ids[:1] == [case.expected]
            bucket["top3"] += case.expected in ids
        row[d.kind] += 1
        if d.kind == "answer":
            row["answer_wrong"] += d.hits[0].entry_id != case.expected
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
            "answered": pct(r["answer"], r["n"]),
            "answered_wrong": pct(r["answer_wrong"], r["answer"]),
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
        "thresholds": {"answer": thresholds[0], "margin": thresholds[1], "clarify": thresholds[2]},
        "overall": {
            "questions": total["n"],
            "top1": pct(total["top1"], total["n"]),
            "top3": pct(total["top3"], total["n"]),
        },
        "languages": langs,
        "topics": topics,
    }


def calibrate(results, kb, max_wrong_pct: float = 10.0) -> tuple[float, float, float]:
    """The thresholds that answer directly as often as possible while, in every language, at
    most `max_wrong_pct` of direct answers are wrong and at most 3x that share of unanswerable
    questions get one; ties go to fewer "I don't know"."""
    best, best_key = None, None
    for answer_t in [x / 100 for x in range(80, 96)]:
        for margin in (0.0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.045, 0.05, 0.06):
            for clarify_t in [x / 100 for x in range(78, int(answer_t * 100) + 1, 2)]:
                s = summarise(results, kb, (answer_t, margin, clarify_t))["languages"].values()
                answered = sum(v["answered"] or 0 for v in s)
                wrong = max((v["answered_wrong"] or 0) for v in s)
                leak = max((v["unanswerable_given_an_answer"] or 0) for v in s)
                dont_know = sum(v["dont_know"] or 0 for v in s)
                if wrong > max_wrong_pct or leak > max_wrong_pct * 3:
                    continue
                key = (answered, -dont_know)
                if best_key is None or key > best_key:
                    best, best_key = (answer_t, margin, clarify_t), key
    return best or (ANSWER_THRESHOLD, ANSWER_MARGIN, CLARIFY_THRESHOLD)


def print_report(summary: dict) -> None:
    t = summary["thresholds"]
    print(
        f"thresholds: answer >= {t['answer']}, margin >= {t['margin']}, clarify >= {t['clarify']}"
    )
    o = summary["overall"]
    print(f"overall: {o['questions']} questions, top-1 {o['top1']}%, top-3 {o['top3']}%\n")
    cols = [
        "questions",
        "top1",
        "top3",
        "answered",
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
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    kb = load()
    index = Index.load_or_build(kb, model_store.load())
    results = run(index, load_cases())
    summary = summarise(results, kb)
    print_report(summary)
    if args.calibrate:
        best = calibrate(results, kb)
        print(
            f"\ncalibrated (<= 10% wrong direct answers per language): answer {best[0]}, "
            f"margin {best[1]}, clarify {best[2]}\n"
        )
        summary = summarise(results, kb, best)
        print_report(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
