"""What a push channel (Telegram, WhatsApp) does for the core, and nothing the core decides.

The core (pipeline, delivery worker) never names a platform: it asks the channel. A channel
owns everything its platform imposes: parsing webhooks (connectors/<name>.py), markup and text
limits, rate limits, retry rules, and when a free-form message may go out at all (WhatsApp's
24-hour window). The wiring (gateway/app.py) builds the enabled channels and hands them to
the delivery worker, and starts and stops them with the gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.core.pacing import RateLimit
    from bot.core.pipeline import Pipeline


@dataclass(frozen=True)
class Outgoing:
    message_id: int  # the stored row; 0 for a reply sent without storage
    text: str
    buttons: list[dict]
    language: str


class SendError(Exception):
    """A send that did not go through. `retryable`: a temporary failure (network, 5xx, rate
    limit); `retry_after`: the platform said how long to wait."""

    def __init__(self, reason: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.retryable, self.retry_after = reason, retryable, retry_after


class Channel(Protocol):
    name: str  # the Contact.channel value of the women it serves
    rate: RateLimit

    async def send(self, address: str, out: Outgoing) -> str:
        """Sends one stored reply; returns the platform's message id; raises SendError."""
        ...

    def may_send_now(self, last_inbound_at: datetime, now: datetime) -> bool:
        """Whether a free-form message may go to her now, given when she last wrote."""
        ...

    async def send_waiting_notice(self, address: str, language: str) -> str | None:
        """Tells her, outside the free-form window, that a reply is waiting (an approved
        template). Returns the platform's message id, or None where the channel has no such
        notice configured. Raises SendError."""
        ...

    async def start(self, pipeline: Pipeline, wake: Callable[[], None]) -> None:
        """Called once when the gateway starts (register a webhook, start polling...)."""
        ...

    async def stop(self) -> None:
        """Called once when the gateway stops; closes connections."""
        ...
