"""Appends a folder of candidate example questions to the entries, for an experiment.

    .venv/bin/python -m tools.candidate_questions knowledge/candidates/questions-2026-12-07

Each file is <language>.yml, a mapping from entry id to new questions. A question is left out
when an entry or knowledge/gaps.yml already has it, or when it is too close to a question of
tests/eval (difflib ratio >= 0.8: tests/eval fits the confidence model). The entries' files
are edited as text, so their layout stays; `git checkout knowledge/entries` undoes it. Then
`make setup` rebuilds the index and the danger model, and `make eval` measures.
"""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path

import yaml

from knowledge import gaps
from tools.stack import REPO

ENTRIES = REPO / "knowledge" / "entries"
EVAL = REPO / "tests" / "eval" / "questions"


def _norm(text: str) -> str:
    return " ".join(str(text).casefold().split())


def _eval_questions(lang: str) -> list[str]:
    path = EVAL / f"{lang}.yml"
    if not path.exists():
        return []
    return [_norm(i["q"]) for i in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]]


def _append(path: Path, lang: str, questions: list[str]) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    start = lines.index(f"  {lang}:", lines.index("questions:"))
    end = start + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    lines[end:end] = [f"    - {json.dumps(q, ensure_ascii=False)}" for q in questions]
    path.write_text("\n".join(lines), encoding="utf-8")


def main(folder: str) -> int:
    parsed = {p: yaml.safe_load(p.read_text(encoding="utf-8")) for p in ENTRIES.glob("*/*.yml")}
    files = {data["id"]: path for path, data in parsed.items()}
    have = {
        (lang, _norm(q))
        for data in parsed.values()
        for lang, qs in (data.get("questions") or {}).items()
        for q in qs
    }
    have |= {(lang, _norm(q)) for _, lang, q in gaps.load()}
    added = 0
    for source in sorted(Path(folder).glob("*.yml")):
        lang, near = source.stem, _eval_questions(source.stem)
        for entry_id, questions in yaml.safe_load(source.read_text(encoding="utf-8")).items():
            keep = []
            for q in (" ".join(str(q).split()) for q in questions):
                if not q or (lang, _norm(q)) in have:
                    continue
                if any(difflib.SequenceMatcher(None, _norm(q), e).ratio() >= 0.8 for e in near):
                    continue
                have.add((lang, _norm(q)))
                keep.append(q)
            if keep:
                _append(files[entry_id], lang, keep)
                added += len(keep)
    print(f"added {added} example questions")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
