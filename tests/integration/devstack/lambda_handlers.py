"""Handlers for the local Lambda stand-in's own tests."""

from __future__ import annotations

import os
import time


def sleep(event, context):
    """Sleep ``event["seconds"]``, then say who did (``exit``: die instead, as a crash would)."""
    time.sleep(event.get("seconds", 0))
    if event.get("exit"):
        os._exit(3)
    return {"pid": os.getpid(), "remaining_ms": context.get_remaining_time_in_millis()}
