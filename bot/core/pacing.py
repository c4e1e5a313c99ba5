"""Pacing for sends: token-bucket rate limits and retry backoff."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict


class RateLimit:
    """Token buckets: one for the whole channel, one per recipient. `wait` sleeps until both
    have a token. Each channel sets its platform's published guidance (Telegram: about 30
    messages a second overall, about one a second per chat with short bursts; WhatsApp Cloud
    API: 80 a second per business number)."""

    def __init__(
        self, per_second: float, per_chat_per_second: float, chat_burst: int, clock=time.monotonic
    ):
        self.per_second, self.per_chat, self.burst = per_second, per_chat_per_second, chat_burst
        self.clock = clock
        self._global = [float(max(1, int(per_second))), clock()]
        self._chats: dict[str, list[float]] = defaultdict(lambda: [float(chat_burst), clock()])
        self._lock = asyncio.Lock()

    @staticmethod
    def _take(bucket: list[float], rate: float, capacity: float, now: float) -> float:
        bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if bucket[0] >= 1:
            return 0.0
        return (1 - bucket[0]) / rate

    def delay(self, chat: str) -> float:
        """Seconds until a send to `chat` may go; 0 takes the tokens at once."""
        now = self.clock()
        g, c = self._global, self._chats[chat]
        delay = max(
            self._take(g, self.per_second, max(1, int(self.per_second)), now),
            self._take(c, self.per_chat, self.burst, now),
        )
        if delay == 0:
            g[0] -= 1
            c[0] -= 1
        return delay

    async def wait(self, chat: str) -> None:
        while True:
            async with self._lock:
                delay = self.delay(chat)
            if delay == 0:
                return
            await asyncio.sleep(delay)


def backoff_s(attempts: int, base: float = 2.0) -> float:
    """Seconds before retry number `attempts` (1, 2, ...): doubling from `base`, at most 5 min."""
    return min(base * 2.0 ** (attempts - 1), 300.0)
