"""Polling for something that happens in another thread or process (a reply arriving in a
fake chat, a delivery state changing), with a clear failure when it does not."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    """Returns predicate()'s first truthy value; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
