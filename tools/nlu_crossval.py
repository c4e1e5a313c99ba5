"""Per-language NLU cross-validation report (issue 4: macro-F1 >= 0.90 in every language).

    make nlu-report        (= .venv/bin/python -m tools.nlu_crossval [--folds 3])

Runs Rasa's own `rasa test nlu --cross-validation` on data/nlu (written by tools/nlu_data.py)
with config.yml, then splits the per-example results of the held-out folds by language: an
example's language is the nlu/data/<lang>.yml it comes from, or, for the knowledge base's
example questions, the language the entry lists it under. Writes var/reports/nlu-crossval.md
and .json. Takes a few minutes (one training per fold); not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tools.nlu_data import PER_ENTRY, TARGET, generate, hand_written  # noqa: E402

REPORTS = REPO / "var" / "reports"
TARGET_F1 = 0.90


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def example_languages() -> dict[str, set[str]]:
    """Normalised example text -> the languages it was written for (a few, like "ok", are
    examples in more than one language and count in each)."""
    from knowledge.store import load

    langs: dict[str, set[str]] = defaultdict(set)
    for lang, _, text in hand_written():
        langs[_norm(text)].add(lang)
    for entry in load().entries.values():
        for lang, questions in entry.questions.items():
            for q in questions[:PER_ENTRY]:
                langs[_norm(q)].add(lang)
    return langs


def macro_f1(pairs: list[tuple[str, str]]) -> tuple[float, dict[str, float]]:
    """Macro-F1 over the intents present (as gold or prediction) in these (gold, predicted)
    pairs; a prediction of nlu_fallback counts as wrong."""
    labels = sorted({g for g, _ in pairs} | {p for _, p in pairs} - {"nlu_fallback"})
    per: dict[str, float] = {}
    for label in labels:
        tp = sum(g == label and p == label for g, p in pairs)
        fp = sum(g != label and p == label for g, p in pairs)
        fn = sum(g == label and p != label for g, p in pairs)
        per[label] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return (sum(per.values()) / len(per) if per else 0.0), per


def fallback_threshold() -> float:
    """FallbackClassifier's threshold in config.yml: below it a message goes to retrieval."""
    pipeline = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))["pipeline"]
    return next(
        (float(c.get("threshold", 0.3)) for c in pipeline if c["name"] == "FallbackClassifier"), 0.0
    )


def run_rasa(folds: int, out: Path) -> None:
    env = dict(
        os.environ, PYTHONPATH=str(REPO), RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2"
    )
    cmd = [
        str(REPO / ".venv-rasa" / "bin" / "rasa"),
        "test",
        "nlu",
        "--nlu",
        str(TARGET),
        "--config",
        str(REPO / "config.yml"),
        "--cross-validation",
        "--folds",
        str(folds),
        "--out",
        str(out),
        "--successes",
        "--no-plot",
    ]
    log = REPORTS / "nlu-crossval.log"
    with log.open("w") as fh:
        r = subprocess.run(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.exit(f"rasa test nlu failed (exit {r.returncode}); see {log}")


def report(out: Path, folds: int, seconds: float) -> dict:
    results = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = out / name
        if path.exists():
            results += json.loads(path.read_text(encoding="utf-8"))
    langs = example_languages()
    threshold = fallback_threshold()
    by_lang: dict[str, list[tuple[str, str]]] = defaultdict(list)
    unsure: dict[str, int] = defaultdict(int)
    unknown = 0
    for r in results:
        pair = (r["intent"], (r.get("intent_prediction") or {}).get("name") or "")
        found = langs.get(_norm(r["text"]))
        if not found:
            unknown += 1
        for lang in found or ():
            by_lang[lang].append(pair)
            unsure[lang] += (r.get("intent_prediction") or {}).get("confidence", 1.0) < threshold

    summary = {
        "folds": folds,
        "examples": len(results),
        "unattributed": unknown,
        "seconds": round(seconds),
        "target_macro_f1": TARGET_F1,
        "languages": {},
    }
    for lang in sorted(by_lang):
        pairs = by_lang[lang]
        f1, per = macro_f1(pairs)
        summary["languages"][lang] = {
            "examples": len(pairs),
            "accuracy": round(sum(g == p for g, p in pairs) / len(pairs), 4),
            "to_retrieval": round(unsure[lang] / len(pairs), 4),
            "macro_f1": round(f1, 4),
            "per_intent_f1": {k: round(v, 4) for k, v in per.items()},
            "errors": [
                {
                    "text": r["text"],
                    "intent": r["intent"],
                    "predicted": (r.get("intent_prediction") or {}).get("name"),
                }
                for r in results
                if lang in langs.get(_norm(r["text"]), ())
                and r["intent"] != (r.get("intent_prediction") or {}).get("name")
            ],
        }
    return summary


def write(summary: dict) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "nlu-crossval.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    lines = [
        f"# NLU cross-validation per language ({summary['folds']} folds)",
        "",
        f"{summary['examples']} held-out predictions, {summary['seconds']} s. "
        f"Target: macro-F1 >= {TARGET_F1:.2f} in every language.",
        "",
        "Rasa scores the classifier's own choice, also where FallbackClassifier would send the "
        'message to retrieval instead; "to retrieval" is the share of such messages.',
        "",
        "| language | examples | accuracy | macro-F1 | to retrieval | weakest intents |",
        "|---|---|---|---|---|---|",
    ]
    for lang, s in summary["languages"].items():
        weakest = sorted(s["per_intent_f1"].items(), key=lambda kv: kv[1])[:3]
        flag = "" if s["macro_f1"] >= TARGET_F1 else " (below target)"
        lines.append(
            f"| {lang} | {s['examples']} | {s['accuracy']:.3f} | {s['macro_f1']:.3f}{flag} | "
            f"{s['to_retrieval']:.3f} | " + ", ".join(f"{k} {v:.2f}" for k, v in weakest) + " |"
        )
    (REPORTS / "nlu-crossval.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument(
        "--reuse", action="store_true", help="only re-split the results of the last run by language"
    )
    args = parser.parse_args()
    out = REPORTS / "nlu-crossval-rasa"
    REPORTS.mkdir(parents=True, exist_ok=True)
    start = time.time()
    if not args.reuse:
        generate()
        run_rasa(args.folds, out)
    write(report(out, args.folds, time.time() - start))


if __name__ == "__main__":
    main()
