"""Chooses the danger model's thresholds on the DEV half of the blind sets, never the test half.

    .venv/bin/python -m tools.danger_calibration

For a grid of (ALARM, VETO) it prints, with the patterns and the model combined as
bot/core/safety.py combines them: recall on the dev half's danger messages, false alarms on its
calm messages (idioms, questions about violence), and alarms on the dev half's knowledge
questions outside the violence and emergency groups (no disclosure there).
"""

from __future__ import annotations

import yaml

from bot.core import safety
from bot.core.danger_model import model
from tools.stack import REPO

BLIND = REPO / "tests" / "blind"


def dev_items() -> tuple[list[dict], list[dict], list[str]]:
    danger = yaml.safe_load((BLIND / "danger.yml").read_text())["items"]
    danger = [i for i in danger if i["half"] == "dev"]
    questions = []
    for path in sorted((BLIND / "questions").glob("*.yml")):
        for item in yaml.safe_load(path.read_text())["items"]:
            if item["half"] == "dev" and item["group"] not in ("violence", "emergency"):
                questions.append(item["text"])
    positives = [i for i in danger if i["label"] == "danger"]
    return positives, [i for i in danger if i["label"] == "calm"], questions


def main() -> None:
    m = model()
    assert m is not None, "build it first: python -m bot.core.danger_model build"
    positives, calm, questions = dev_items()

    def scored(texts: list[str]) -> list[tuple[bool, float]]:
        return [(safety.screen_patterns(t).danger, m.judge(t).probability) for t in texts]

    sets = {
        "recall": scored([i["text"] for i in positives]),
        "false alarms": scored([i["text"] for i in calm]),
        "question alarms": scored(questions),
    }
    for name, items in sets.items():
        print(f"patterns alone, {name}: {sum(r for r, _ in items)}/{len(items)}")
    for alarm in (0.5, 0.6, 0.7, 0.8, 0.85, 0.87, 0.9):
        for veto in (0.0, 0.02, 0.05, 0.1):
            cells = []
            for name, items in sets.items():
                fired = sum((r and p >= veto) or (not r and p >= alarm) for r, p in items)
                cells.append(f"{name} {fired}/{len(items)}")
            print(f"ALARM {alarm:.2f} VETO {veto:.2f}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
