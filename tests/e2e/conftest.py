"""One real stack per test session: the Rasa server with the trained model, the action server
with the real knowledge index, and the gateway, on free loopback ports with a fresh database."""

from __future__ import annotations

import httpx
import pytest

from bot.stack import Ports, Stack
from tests.support.servers import free_port


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stack")
    s = Stack(ports=Ports(gateway=free_port(), rasa=free_port(), actions=free_port()),
              database_url=f"sqlite:///{tmp / 'bot.db'}", log_dir=tmp / "log")
    s.start()
    try:
        s.wait_healthy(timeout_s=300)
        yield s
    finally:
        s.stop()


@pytest.fixture
def chat(stack):
    def send(sender: str, message: str, **metadata) -> list[dict]:
        r = httpx.post(f"{stack.gateway_url}/webhooks/rest/webhook", timeout=60,
                       json={"sender": sender, "message": message, "metadata": metadata})
        assert r.status_code == 200, r.text
        return r.json()

    return send
