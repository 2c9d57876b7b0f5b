"""A language model that waits at its second token until the test says go: Stop then lands
mid-answer, whatever the machine's speed."""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from latentstudio.engine import Engine, EventKind


@contextlib.contextmanager
def held_at_second_token(engine: Engine) -> Iterator[threading.Event]:
    """Set the event the block gets (after clicking Stop) to let the model go on."""
    release = threading.Event()
    partials = []

    def hold(event) -> None:  # on the engine thread
        if event.kind is EventKind.PARTIAL:
            partials.append(event)
            if len(partials) == 2:
                release.wait(10)

    remove = engine.add_listener(hold)
    try:
        yield release
    finally:
        release.set()
        remove()
