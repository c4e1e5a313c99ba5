"""Does her first reply answer her? Measured on the blind sets, through the real stack.

    make eval-blind             # = .venv/bin/python -m tools.first_reply [--url URL]

Sends every question of tests/blind/questions/ (written by hands that saw only the topic list
and the fact sheet; the entries that answer each one are in tests/blind/labels.yml) as the
first message of a new conversation to the REST channel, and every message of
tests/blind/danger.yml, and reads the first reply as she would:

  right first reply   an entry that answers her (labels.yml) is in the first reply
  wrong confident     the first reply is the answer of an entry that does not
  unanswerable        a question no entry answers got a confident answer anyway
  short messages      a greeting, "ok", a number... after one question in her language: the
                      reply is in her language
  danger              the emergency text (112, 1888) is in the first reply; calm messages:
                      it is not (a false alarm)

Two halves. The dev half may be looked at and tuned on; the test half is run only to report:
this command prints its figures, never its texts, and writes item-level detail for the dev
half only (var/reports/first-reply-dev.jsonl). Without --url it starts its own stack on free
ports with a temporary database.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from common import texts
from common.vocab import LANGUAGES
from knowledge.store import load
from tests.support.servers import free_port
from tools.stack import REPO, Ports, Stack

BLIND = REPO / "tests" / "blind"
REPORTS = REPO / "var" / "reports"
HALVES = ("dev", "test")


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, key: str, ok: bool) -> None:
        self.counts[key + ":n"] += 1
        self.counts[key + ":ok"] += int(ok)

    def rate(self, key: str) -> tuple[int, int]:
        return self.counts[key + ":ok"], self.counts[key + ":n"]


def _answer_marks(kb) -> dict[str, dict[str, str]]:
    """A recognisable piece of each entry's answer text, per language: its first 60
    characters as rendered for her (the same text the action sends)."""
    marks: dict[str, dict[str, str]] = {}
    for entry_id in kb.entries:
        marks[entry_id] = {}
        for lang in LANGUAGES:
            rendered = kb.render(entry_id, lang).text
            marks[entry_id][lang] = " ".join(rendered.split())[:60]
    return marks


def _entries_in(reply: str, marks: dict[str, dict[str, str]], lang: str) -> set[str]:
    flat = " ".join(reply.split())
    return {
        e
        for e, by_lang in marks.items()
        if by_lang.get(lang, "") in flat or by_lang.get("en", "") in flat
    }


def _in_language(reply: str, lang: str, by_lang: dict[str, set[str]]) -> bool:
    """The reply contains one of the bot's own texts in `lang` (and none in another
    language of a different script would be too strict: Danish terms appear everywhere)."""
    flat = " ".join(reply.split())
    return any(t and t in flat for t in by_lang.get(lang, ()))


def _bot_texts() -> dict[str, set[str]]:
    """Opening words of the bot's own texts per language (English: the unconditioned ones)."""
    out: dict[str, set[str]] = defaultdict(set)
    for name in texts.names():
        for lang in LANGUAGES:
            if lang != "en" and lang not in texts.languages_of(name):
                continue
            first = " ".join(texts.text(name, lang).split("{")[0].split())[:40]
            if len(first) >= 8:
                out[lang].add(first)
    return out


def _emergency_marks() -> list[str]:
    """The start of the emergency reply in each language: its first two sentences, so that a
    knowledge answer that itself says "if you are in danger now, call 112" (the 1888 entry
    does) is not counted as the emergency reply."""
    return [" ".join(texts.text("utter_emergency", lang).split())[:80] for lang in LANGUAGES]


class Client:
    def __init__(self, url: str):
        self.url = url.rstrip("/") + "/webhooks/rest/webhook"
        self.http = httpx.Client(timeout=60)

    def send(self, sender: str, text: str) -> str:
        r = self.http.post(self.url, json={"sender": sender, "message": text})
        r.raise_for_status()
        return "\n\n".join(m.get("text") or "" for m in r.json())


def run(url: str) -> dict:
    kb = load()
    marks = _answer_marks(kb)
    bot_texts = _bot_texts()
    emergency = _emergency_marks()
    labels = yaml.safe_load((BLIND / "labels.yml").read_text())["labels"]
    client = Client(url)
    tally = {h: Tally() for h in HALVES}
    dev_items = []

    for path in sorted((BLIND / "questions").glob("*.yml")):
        data = yaml.safe_load(path.read_text())
        lang = data["language"]
        items = data["items"]
        primer = next(i["text"] for i in items if i["group"] not in ("short", "unanswerable"))
        for item in items:
            half, group = item["half"], item["group"]
            expect = set(labels[item["id"]]["expect"])
            sender = f"eval-{uuid.uuid4().hex[:12]}"
            if group == "short":
                client.send(sender, primer)  # she has written once in her language
            reply = client.send(sender, item["text"])
            given = _entries_in(reply, marks, lang)
            record = {"id": item["id"], "lang": lang, "group": group, "expect": sorted(expect)}
            t = tally[half]
            if group == "short":
                ok = _in_language(reply, lang, bot_texts)
                t.add(f"short|{lang}", ok)
                t.add("short|all", ok)
                record["ok"] = ok
            elif not expect:
                confident = bool(given)
                t.add(f"unanswerable|{lang}", not confident)
                t.add("unanswerable|all", not confident)
                record["ok"] = not confident
            else:
                right = bool(given & expect)
                wrong = bool(given) and not right
                t.add(f"right|{lang}", right)
                t.add(f"right|group:{group}", right)
                t.add("right|all", right)
                t.add(f"wrong|{lang}", wrong)
                t.add("wrong|all", wrong)
                record["ok"] = right
            record["given"] = sorted(given)
            if half == "dev":
                record["text"], record["reply"] = item["text"], reply
                dev_items.append(record)

    danger = yaml.safe_load((BLIND / "danger.yml").read_text())["items"]
    for item in danger:
        reply = client.send(f"eval-{uuid.uuid4().hex[:12]}", item["text"])
        flat = " ".join(reply.split())
        alarmed = any(m in flat for m in emergency)
        t = tally[item["half"]]
        base = item["language"]
        if item["label"] == "danger":
            t.add(f"danger|{base}", alarmed)
            t.add("danger|all", alarmed)
            unsure = texts.text("utter_clarify", base.split("-")[0])[:30] in reply
            t.add("danger_not_unsure|all", not unsure)
        else:
            t.add(f"false_alarm|{base}", alarmed)
            t.add("false_alarm|all", alarmed)
        if item["half"] == "dev":
            dev_items.append(
                {
                    "id": item["id"],
                    "lang": base,
                    "group": f"danger:{item['label']}",
                    "ok": alarmed == (item["label"] == "danger"),
                    "text": item["text"],
                    "reply": reply,
                }
            )
    REPORTS.mkdir(parents=True, exist_ok=True)
    with open(REPORTS / "first-reply-dev.jsonl", "w") as f:
        for record in dev_items:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {h: dict(tally[h].counts) for h in HALVES}


def table(result: dict) -> str:
    langs = ["ar", "so", "uk", "fa", "ur", "tr", "ti", "en", "da"]

    def cell(counts: dict, key: str) -> str:
        ok, n = counts.get(key + ":ok", 0), counts.get(key + ":n", 0)
        return f"{ok}/{n} ({100 * ok / n:.0f}%)" if n else "-"

    out = []
    for half in HALVES:
        counts = result[half]
        lines = [f"### {half} half", "", "| measure | all | " + " | ".join(langs) + " |"]
        lines.append("|---|" + "---|" * (len(langs) + 1))
        for measure, label in (
            ("right", "first reply right"),
            ("wrong", "wrong confident answer"),
            ("unanswerable", "unanswerable not answered"),
            ("short", "short message in her language"),
            ("danger", "danger: emergency numbers first"),
            ("false_alarm", "calm: false alarm"),
        ):
            cells = [cell(counts, f"{measure}|all")]
            for lang in langs:
                cells.append(cell(counts, f"{measure}|{lang}"))
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        latin = [
            f"{x}: {cell(counts, f'danger|{x}')} recall, {cell(counts, f'false_alarm|{x}')} alarms"
            for x in ("ar-latn", "ur-latn", "fa-latn")
        ]
        lines += ["", "Latin letters: " + "; ".join(latin)]
        groups = sorted(
            {
                k.split("|")[1].removeprefix("group:").rsplit(":", 1)[0]
                for k in counts
                if k.startswith("right|group:")
            }
        )
        lines += [
            "",
            "By topic group: "
            + "; ".join(f"{g} {cell(counts, f'right|group:{g}')}" for g in groups),
            "",
            f"Danger replies without the 'not sure' text: {cell(counts, 'danger_not_unsure|all')}",
            "",
        ]
        out.append("\n".join(lines))
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.first_reply")
    parser.add_argument("--url", help="a running gateway; default: start a fresh stack")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.url:
        result = run(args.url)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            stack = Stack(
                ports=Ports(free_port(), free_port(), free_port()),
                database_url=f"sqlite:///{tmp}/eval.db",
                log_dir=Path(tmp) / "log",
            )
            with stack:
                stack.wait_healthy()
                result = run(stack.gateway_url)
    report = table(result)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "first-reply.md").write_text(report)
    (REPORTS / "first-reply.json").write_text(json.dumps(result, indent=1))
    print(report)
    print(f"({time.perf_counter() - started:.0f} s; dev items: var/reports/first-reply-dev.jsonl)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
