"""The one stream of job events: engine jobs, downloads and background library work report here.

Qt-free. The GUI attaches once (`ui/bridge.py`) and re-emits in its own thread; the CLI and the
tests listen directly. Listeners are called on the thread that emitted the event.
"""

from __future__ import annotations

from typing import Callable

from .jobs import EventCallback, JobEvent
from .listeners import Listeners


class EventHub:
    def __init__(self) -> None:
        self._listeners: Listeners[JobEvent] = Listeners()

    def add_listener(self, callback: EventCallback) -> Callable[[], None]:
        """Receive every event from now on; returns a function that stops it."""
        return self._listeners.add(callback)

    def emit(self, event: JobEvent) -> None:
        self._listeners.emit(event)
