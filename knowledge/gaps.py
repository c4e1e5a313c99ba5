"""What the knowledge base knows it does not cover (knowledge/gaps.yml).

Questions women ask that no entry answers (enrolling a child in school, a flat, child benefit,
a driving licence...) are still about life in Denmark, so they land near some entry that shares
their words ("register", "municipality", "fee") and were answered with it, confidently and
wrongly. Each gap is a topic with example questions in every first language; a question closer
to a gap than to any entry gets the honest "I do not have checked information about that" and
the offer of a counsellor, and is kept for the editors (actions/unanswered.py), who see which
gap it was.

When an editor writes an entry for a gap's topic, the gap's questions go (else the entry
competes with its own topic's gap).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from knowledge.schema import LANGUAGES

GAPS = Path(__file__).resolve().parent / "gaps.yml"


def load(path: Path = GAPS) -> list[tuple[str, str, str]]:
    """(gap id, language, question) for every example question; [] without the file."""
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rows = []
    for gap_id, gap in (data.get("gaps") or {}).items():
        for lang, questions in (gap.get("questions") or {}).items():
            if lang not in LANGUAGES:
                raise ValueError(f"{path.name}: gap {gap_id}: unknown language {lang!r}")
            rows += [(f"gap:{gap_id}", lang, str(q)) for q in questions]
    return rows


def fingerprint(path: Path = GAPS) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "none"
