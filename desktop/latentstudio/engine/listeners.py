"""A thread-safe list of event callbacks, shared by job handles, the engine and the downloads."""

from __future__ import annotations

import logging
import threading
from typing import Callable, Generic, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")


class Listeners(Generic[E]):
    def __init__(self) -> None:
        self._callbacks: list[Callable[[E], None]] = []
        self._lock = threading.Lock()

    def add(self, callback: Callable[[E], None]) -> Callable[[], None]:
        """Register `callback`; returns a function that removes it again."""
        with self._lock:
            self._callbacks.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return remove

    def snapshot(self) -> list[Callable[[E], None]]:
        with self._lock:
            return list(self._callbacks)

    def emit(self, event: E) -> None:
        """Call every callback; one that raises is logged and never stops the others (or a job)."""
        for callback in self.snapshot():
            try:
                callback(event)
            except Exception:
                log.exception("event listener %r failed", callback)
