"""The gateway's /health: 200 only when every part a woman's message passes through is ready."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import Engine

from bot.core.rasa_client import RasaClient
from bot.storage.db import migration_state
from common import contracts

# A minimal tracker: enough for the action server to run a status action.
_STATUS_CALL = {
    "next_action": "action_knowledge_status",
    "sender_id": "health-check",
    "tracker": {
        "sender_id": "health-check",
        "slots": {},
        "latest_message": {},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": None,
    },
    "domain": {},
    "version": "3.21.1",
}


async def _database(engine: Engine) -> dict:
    try:
        current, head = await asyncio.to_thread(migration_state, engine)
    except Exception as exc:
        return {"ok": False, "detail": f"unreachable: {exc.__class__.__name__}"}
    return {"ok": current == head, "detail": f"revision {current} (head {head})"}


async def _action_server(http: httpx.AsyncClient, url: str) -> tuple[dict, dict]:
    """The action server's status and, through it, the knowledge index's."""
    try:
        r = await http.post(f"{url.rstrip('/')}/webhook", json=_STATUS_CALL, timeout=3)
        r.raise_for_status()
        custom = (r.json().get("responses") or [{}])[0].get("custom")
        status = contracts.from_custom(custom)
    except (httpx.HTTPError, ValueError) as exc:  # MalformedDirective is a ValueError
        down = {"ok": False, "detail": f"unreachable: {exc.__class__.__name__}"}
        return down, {"ok": False, "detail": "unknown: the action server holds the index"}
    if not isinstance(status, contracts.KnowledgeStatus):
        return {"ok": True, "detail": "answering"}, {"ok": False, "detail": "not loaded"}
    return (
        {"ok": True, "detail": "answering"},
        {
            "ok": status.entries > 0 and status.rows > 0,
            "detail": f"{status.entries} entries, {status.rows} example questions",
        },
    )


async def check(engine: Engine, rasa: RasaClient, action_url: str) -> dict:
    db, rasa_state, (action, index) = await asyncio.gather(
        _database(engine), rasa.status(), _action_server(rasa.http, action_url)
    )
    components = {
        "rasa": rasa_state,
        "action_server": action,
        "database": db,
        "knowledge_index": index,
    }
    healthy = all(c["ok"] for c in components.values())
    return {"status": "ok" if healthy else "unavailable", "components": components}
