"""The bot's own texts, read from domain.yml so Rasa, the action server and the gateway's
fallback replies all say the same words. A variation is chosen by its `language` slot
condition; the unconditioned variation (English) serves any other language."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

DOMAIN = Path(__file__).resolve().parent.parent / "domain.yml"


@lru_cache(maxsize=1)
def _responses() -> dict[str, list[dict]]:
    return yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))["responses"]


def _language_of(variation: dict) -> str | None:
    for cond in variation.get("condition") or []:
        if cond.get("type") == "slot" and cond.get("name") == "language":
            return cond.get("value")
    return None


def response(name: str, language: str | None, **values: str) -> dict:
    """{'text': ..., 'buttons': [...]} for one response in one language."""
    variations = _responses()[name]
    chosen = next((v for v in variations if _language_of(v) == language), None) or next(
        v for v in variations if _language_of(v) is None
    )
    text = re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), chosen["text"])
    out: dict = {"text": text}
    if chosen.get("buttons"):
        out["buttons"] = [_unescaped(b) for b in chosen["buttons"]]
    return out


def _unescaped(button: dict) -> dict:
    """A button as Rasa sends it. Payloads carrying JSON double their braces in domain.yml
    (`/request_human{{"topic": "health"}}`): Rasa fills `{slot}` placeholders in responses, and
    a single brace made it log an error, with her slot values, for every menu it showed."""
    out = dict(button)
    if isinstance(out.get("payload"), str):
        out["payload"] = out["payload"].replace("{{", "{").replace("}}", "}")
    return out


def text(name: str, language: str | None, **values: str) -> str:
    return response(name, language, **values)["text"]


def languages_of(name: str) -> set[str]:
    return {lang for v in _responses()[name] if (lang := _language_of(v))}


def names() -> list[str]:
    return list(_responses())
