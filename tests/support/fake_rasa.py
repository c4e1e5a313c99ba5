"""A scripted Rasa server (REST channel, /status, tracker events) and action server
(/health, action_knowledge_status), on loopback, for the gateway's integration tests."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class FakeRasa:
    """Speaks the Rasa REST channel and /status; replies are scripted per test."""

    def __init__(self):
        self.received: list[dict] = []
        self.mode = "ok"  # ok | error | empty | slow
        self.delay_s = 0.0  # think time for every message (benchmarks)
        self.replies: list[dict] | None = None
        self.fail_on: set[str] = set()  # messages answered with 500 (one message's failure)
        self.model_loaded = True
        self.replaced: list[str] = []
        self.active = 0
        self.max_active = 0
        self.app = FastAPI()

        @self.app.post("/webhooks/rest/webhook")
        async def webhook(request: Request):
            body = await request.json()
            self.received.append(body)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            try:
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                if self.mode == "slow":
                    await asyncio.sleep(0.2)
                if self.mode == "error" or body["message"] in self.fail_on:
                    return JSONResponse({"error": "boom"}, status_code=500)
                if self.mode == "empty":
                    return []
                return self.replies or [
                    {"recipient_id": body["sender"], "text": f"echo: {body['message']}"}
                ]
            finally:
                self.active -= 1

        @self.app.put("/conversations/{sender}/tracker/events")
        async def replace(sender: str):
            self.replaced.append(sender)
            return {}

        @self.app.get("/status")
        async def status():
            return {"model_file": "bot.tar.gz" if self.model_loaded else None}


class FakeActions:
    def __init__(self):
        self.up = True
        self.app = FastAPI()

        @self.app.get("/health")
        async def health():
            if not self.up:
                return JSONResponse({"status": "down"}, status_code=503)
            return {"status": "ok"}

        @self.app.post("/webhook")
        async def webhook(request: Request):
            body = await request.json()
            if not self.up or body["next_action"] != "action_knowledge_status":
                return JSONResponse({"error": "unavailable"}, status_code=500)
            return {
                "events": [],
                "responses": [
                    {
                        "custom": {
                            "directive": {
                                "kind": "knowledge_status",
                                "entries": 3,
                                "rows": 40,
                                "fingerprint": "fake",
                            }
                        }
                    }
                ],
            }
