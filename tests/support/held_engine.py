"""A running job that holds the engine, so the jobs submitted after it wait their turn."""

from __future__ import annotations

import threading

from latentstudio.context import AppContext
from latentstudio.engine import Priority

WINDOW_TIMEOUT_MS = 120_000  # a tiny model's job, in a window, on a busy two-core machine


def hold_engine(ctx: AppContext, kind: str) -> threading.Event:
    """A running job of `kind` that waits until the returned event is set (so others queue)."""
    release, started = threading.Event(), threading.Event()

    def hold(job) -> None:
        started.set()
        release.wait(30)

    ctx.engine.submit(hold, Priority.FOREGROUND, name="busy", kind=kind)
    assert started.wait(10)
    return release
