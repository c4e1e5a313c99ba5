"""How the unanswered-questions grouping threshold was chosen (bot/workspace/unanswered.py).

    .venv/bin/python -m tools.unanswered_threshold

Runs the workspace's own grouping (`group_vectors`, vectors from the danger screen's e5
engine, the one the gateway has loaded) per language over questions whose need is known, and
prints for each threshold the pairwise precision ("two questions in one group ask for the same
entry") and recall ("two questions for the same entry end up in one group"). Two sets:

- `examples`: the knowledge base's example questions (knowledge/entries, 5-10 per entry and
  language: the same need in different words). The threshold is chosen here.
- `eval`: tests/eval/questions (written independently, two or three per entry and language,
  but about different facets of the entry: a harder test, reported only).

Editors act on a group as one thing, so a merge of two needs costs more than a split (a
question alone is still shown): the threshold chosen is the lowest at which, pooled over all
languages, at least half of the pairs put together ask for the same entry.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import yaml

from bot.core.danger_model import model
from bot.workspace.unanswered import group_vectors
from knowledge.store import load

EVAL = Path(__file__).resolve().parents[1] / "tests" / "eval" / "questions"
THRESHOLDS = [round(0.88 + 0.01 * i, 2) for i in range(10)]
PRECISION = 0.5


def pairs(labels: list[str], groups: list[list[int]]) -> tuple[int, int, int]:
    """(pairs together and same entry, pairs together, pairs with the same entry)."""
    where = {i: g for g, members in enumerate(groups) for i in members}
    together = same = both = 0
    for a, b in combinations(range(len(labels)), 2):
        t, s = where[a] == where[b], labels[a] == labels[b]
        together += t
        same += s
        both += t and s
    return both, together, same


def _encode(engine, texts: list[str]) -> np.ndarray:
    return np.vstack([engine.encode(texts[i : i + 64]) for i in range(0, len(texts), 64)])


def question_sets(engine) -> dict[str, dict[str, tuple[list[str], np.ndarray]]]:
    kb = load()
    examples: dict[str, list[tuple[str, str]]] = {}
    for entry_id, entry in kb.entries.items():
        for lang, items in (entry.questions or {}).items():
            examples.setdefault(lang, []).extend((entry_id, q) for q in items)
    evaluation = {}
    for path in sorted(EVAL.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        evaluation[data["lang"]] = [(q["entry"], q["q"]) for q in data["questions"]]
    return {
        name: {
            lang: ([e for e, _ in rows], _encode(engine, [q for _, q in rows]))
            for lang, rows in sorted(found.items())
        }
        for name, found in (("examples", examples), ("eval", evaluation))
    }


def main() -> None:
    engine = model()
    assert engine is not None, "build it first: python -m bot.core.danger_model build"
    chosen = None
    for name, sets in question_sets(engine).items():
        n = sum(len(labels) for labels, _ in sets.values())
        print(f"{name}: {n} questions in {len(sets)} languages")
        print("  threshold  precision  recall  groups")
        for t in THRESHOLDS:
            both = together = same = n_groups = 0
            for labels, vectors in sets.values():
                groups = group_vectors(vectors, t)
                b, tg, s = pairs(labels, groups)
                both, together, same, n_groups = (
                    both + b,
                    together + tg,
                    same + s,
                    n_groups + len(groups),
                )
            p = both / together if together else 1.0
            r = both / same if same else 0.0
            print(f"  {t:.2f}       {p:.3f}      {r:.3f}   {n_groups}")
            if name == "examples" and chosen is None and p >= PRECISION:
                chosen = t
    print(f"chosen: {chosen} (lowest with pooled precision >= {PRECISION} on the examples)")


if __name__ == "__main__":
    main()
