"""Nothing sensitive in the logs: after a conversation on each channel through the real stack
(a question, a danger message, a request for a person), no process's log holds what she wrote,
her channel ids, Rasa's conversation key for her, the outbox secret or a platform token.

Someone who reads the logs of a deployment (an operator, a log service, a stolen backup) must
not learn who wrote what."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from bot.storage.models import Contact
from tests.e2e.conftest import TELEGRAM_SECRET
from tests.e2e.test_channels import query
from tests.support.delivery import wait_until_delivered

pytestmark = pytest.mark.stack

# Words nobody else sends, so a hit can only be this test's message.
QUESTION = "zebrafinch question: where do I get a sundhedskort in Vejle"
DANGER = "quokkahelp he will kill me tonight"
TELEGRAM_CHAT = 777_000_123
WHATSAPP_NUMBER = "4591234567"
REST_SENDER = "rest-sender-ocelot-41"


def _logs(stack) -> str:
    return "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in sorted(stack.log_dir.glob("*.log"))
    )


def test_a_conversation_on_every_channel_leaves_nothing_of_her_in_the_logs(stack, platforms):
    telegram, _, whatsapp, _ = platforms
    gateway = stack.gateway_url

    rest = httpx.post(
        f"{gateway}/webhooks/rest/webhook",
        json={"sender": REST_SENDER, "message": QUESTION},
        timeout=60,
    )
    assert rest.status_code == 200 and rest.json()
    outbox_token = rest.headers["x-outbox-token"]
    for text in (DANGER, "/request_human"):
        r = httpx.post(
            f"{gateway}/webhooks/rest/webhook",
            json={"sender": REST_SENDER, "message": text},
            timeout=60,
        )
        assert r.status_code == 200 and r.json()

    for text in (QUESTION, DANGER):
        r = httpx.post(
            f"{gateway}/webhooks/telegram",
            json=telegram.text_update(TELEGRAM_CHAT, text),
            headers={"x-telegram-bot-api-secret-token": TELEGRAM_SECRET},
            timeout=60,
        )
        assert r.status_code == 200
        body, headers = whatsapp.signed(whatsapp.text(WHATSAPP_NUMBER, text))
        r = httpx.post(f"{gateway}/webhooks/whatsapp", content=body, headers=headers, timeout=60)
        assert r.status_code == 200
    wait_until_delivered(stack.database_url, channels=["telegram", "whatsapp"], timeout=60)
    assert telegram.chat(TELEGRAM_CHAT) and whatsapp.chat(WHATSAPP_NUMBER), "she was answered"

    keys = [k for (k,) in query(stack, select(Contact.conversation_key))]
    logs = _logs(stack)
    assert logs.strip(), "the processes write logs at all"
    secrets = {
        "her question": "zebrafinch",
        "her danger message": "quokkahelp",
        "her Telegram chat id": str(TELEGRAM_CHAT),
        "her WhatsApp number": WHATSAPP_NUMBER,
        "her REST sender id": REST_SENDER,
        "the outbox secret": outbox_token,
        "the Telegram token": telegram.token,
        "the Telegram webhook secret": TELEGRAM_SECRET,
        "the WhatsApp token": whatsapp.token,
        "the WhatsApp app secret": whatsapp.app_secret,
    }
    secrets.update({f"Rasa's key for a conversation ({n})": k for n, k in enumerate(keys)})
    leaked = [name for name, value in secrets.items() if value in logs]
    assert leaked == []
    # The topic menu was shown (she asked for a person): Rasa filled its responses without
    # tripping on the buttons' JSON payloads, which made it log her slot values.
    assert "interpolator.interpolate" not in logs
    assert "Failed to replace placeholders" not in logs
