"""One real stack per test session: the Rasa server with the trained model, the action server
with the real knowledge index, and the gateway, on free loopback ports with a fresh database.
The gateway's Telegram and WhatsApp connectors point at fake platform APIs on loopback
(tests/support), so conversations on both channels run through the real stack too."""

from __future__ import annotations

import os
import signal

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_whatsapp import PHONE_NUMBER_ID, VERSION, FakeWhatsApp
from tests.support.replies import without_privacy_notice
from tests.support.servers import free_port, serve
from tools.stack import Ports, Stack

TELEGRAM_SECRET = "e2e-telegram-secret"


@pytest.fixture(scope="session")
def platforms():
    telegram, whatsapp = FakeTelegram(), FakeWhatsApp()
    with serve(telegram.app) as telegram_url, serve(whatsapp.app) as whatsapp_url:
        yield telegram, telegram_url, whatsapp, whatsapp_url


def platform_env(platforms) -> dict[str, str]:
    """A gateway's settings for the fake Telegram (webhook mode) and WhatsApp APIs."""
    telegram, telegram_url, whatsapp, whatsapp_url = platforms
    return {
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_TOKEN": telegram.token,
        "TELEGRAM_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_URL": telegram_url,
        "WHATSAPP_TOKEN": whatsapp.token,
        "WHATSAPP_APP_SECRET": whatsapp.app_secret,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_API_VERSION": VERSION,
        "WHATSAPP_API_URL": whatsapp_url,
    }


@pytest.fixture(scope="session")
def stack(tmp_path_factory, platforms):
    tmp = tmp_path_factory.mktemp("stack")
    s = Stack(
        ports=Ports(gateway=free_port(), rasa=free_port(), actions=free_port()),
        database_url=f"sqlite:///{tmp / 'bot.storage.db'}",
        log_dir=tmp / "log",
        extra_env={
            **platform_env(platforms),
            # One key for the gateway and Rasa's tracker store (nlu/tracker_store.py), as in
            # production, rather than the developer's var/data.key.
            "DATA_KEYS": Fernet.generate_key().decode(),
            # a reply whose gateway test_faults kills mid-send is taken over within seconds
            "DELIVERY_CLAIM_TIMEOUT_S": "20",
        },
    )
    s.start()
    try:
        s.wait_healthy(timeout_s=300)
        yield s
    finally:
        s.stop()


@pytest.fixture
def chat(stack):
    def send(sender: str, message: str, **metadata) -> list[dict]:
        r = httpx.post(
            f"{stack.gateway_url}/webhooks/rest/webhook",
            timeout=60,
            json={"sender": sender, "message": message, "metadata": metadata},
        )
        assert r.status_code == 200, r.text
        # the notice that ends her first answer is checked in test_stack.py; here it is
        # taken off (and checked to come last) so each test reads the answers themselves
        return without_privacy_notice(r.json())

    return send


def restart_rasa(stack) -> None:
    """Kills the Rasa server outright (SIGKILL: no chance to save anything on the way out),
    starts it again and waits until the gateway reports the stack healthy."""
    proc = stack.procs.pop("rasa")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stack.start_rasa()
    stack.wait_healthy(timeout_s=300)
