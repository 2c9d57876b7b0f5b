"""Run blocking non-model work (file copies, folder walks, database writes) off the GUI thread.

Each task runs on a plain Python thread of its own and reports through a QObject made in the GUI
thread, so its result arrives there as a queued signal. (Python subclasses of QRunnable are not
used: Qt deletes a finished runnable from its worker thread, which is no place to free a Python
object.)"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


def _run(fn: Callable[[], Any], relay: _Relay) -> None:
    try:
        result = fn()
    except Exception as exc:  # reported to the GUI as state, traceback to the log
        log.exception("background task failed")
        _report(relay.failed, exc)
    else:
        _report(relay.done, result)


def _report(signal: "Signal", value: Any) -> None:
    try:
        signal.emit(value)
    except RuntimeError:  # the GUI side is gone (the app is closing): nobody to tell
        log.debug("background task finished after its receiver was deleted")


_live: set[_Relay] = set()
_threads: set[threading.Thread] = set()
_threads_lock = threading.Lock()


def wait_for_background(timeout_ms: int = 30000) -> bool:
    """Let running tasks finish before the app exits (they may hold files or databases)."""
    deadline = time.monotonic() + timeout_ms / 1000
    with _threads_lock:
        running = list(_threads)
    for thread in running:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in running)


def run_in_background(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Optional[Callable[[BaseException], None]] = None,
) -> None:
    """Call fn on a thread of its own; on_done/on_error are called back in the GUI thread."""
    relay = _Relay()  # created in the GUI thread, so its signals are delivered there
    _live.add(relay)

    def finish_ok(result: Any) -> None:
        _live.discard(relay)
        on_done(result)

    def finish_error(exc: BaseException) -> None:
        _live.discard(relay)
        if on_error is not None:
            on_error(exc)

    relay.done.connect(finish_ok)
    relay.failed.connect(finish_error)

    def work() -> None:
        try:
            _run(fn, relay)
        finally:
            with _threads_lock:
                _threads.discard(thread)

    thread = threading.Thread(target=work, name="latent-background", daemon=True)
    with _threads_lock:
        _threads.add(thread)
    thread.start()
