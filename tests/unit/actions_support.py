"""Saved trackers (tests/data/trackers/*.json, in the shape Rasa sends to the action server)
and a way to run an action on one, collecting what it says and the events it returns."""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
from pathlib import Path

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from common import contracts
from common.texts import DOMAIN

TRACKERS = Path(__file__).resolve().parent.parent / "data" / "trackers"


def tracker_state(name: str) -> dict:
    return json.loads((TRACKERS / f"{name}.json").read_text(encoding="utf-8"))


def tracker(name_or_state: str | dict) -> Tracker:
    state = tracker_state(name_or_state) if isinstance(name_or_state, str) else name_or_state
    return Tracker.from_dict(copy.deepcopy(state))


def domain() -> dict:
    return yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))


def run(action, state: str | dict) -> tuple[list[dict], list[dict]]:
    """(messages the action sent, events it returned)."""
    dispatcher = CollectingDispatcher()
    result = action.run(dispatcher, tracker(state), domain())
    if inspect.isawaitable(result):
        result = asyncio.run(result)
    return dispatcher.messages, result


def slots_set(events: list[dict]) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def payloads(messages: list[dict], kind: str) -> list[dict]:
    """The directives of one kind the action sent the gateway (common/contracts.py), read
    back the way the gateway reads them, as their fields without the kind."""
    found = [contracts.from_custom(m.get("custom")) for m in messages]
    return [d.model_dump(exclude={"kind"}) for d in found if d is not None and d.kind == kind]
