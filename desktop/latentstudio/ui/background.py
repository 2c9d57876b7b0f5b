"""Run blocking non-model work (file copies, folder walks) off the GUI thread."""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay):
        super().__init__()
        self.fn = fn
        self.relay = relay

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # reported to the GUI as state, traceback to the log
            log.exception("background task failed")
            self._report(self.relay.failed, exc)
        else:
            self._report(self.relay.done, result)

    @staticmethod
    def _report(signal: "Signal", value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the GUI side is gone (the app is closing): nobody to tell
            log.debug("background task finished after its receiver was deleted")


_live: set[_Relay] = set()


def _deliver(callback: Callable[[Any], None], value: Any) -> None:
    """Call back the GUI side; a page closed while its task ran has no widgets left to update."""
    try:
        callback(value)
    except RuntimeError as exc:
        if "already deleted" not in str(exc):
            raise
        log.debug("a background task finished after the widgets it reports to were closed: %s", exc)


def wait_for_background(timeout_ms: int = 30000) -> bool:
    """Let running tasks finish before the app exits (they may hold files or databases)."""
    return QThreadPool.globalInstance().waitForDone(timeout_ms)


def run_in_background(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Optional[Callable[[BaseException], None]] = None,
) -> None:
    """Call fn on Qt's thread pool; on_done/on_error are called back in the GUI thread."""
    relay = _Relay()  # created in the GUI thread, so its signals are delivered there
    _live.add(relay)

    def finish_ok(result: Any) -> None:
        _live.discard(relay)
        _deliver(on_done, result)

    def finish_error(exc: BaseException) -> None:
        _live.discard(relay)
        if on_error is not None:
            _deliver(on_error, exc)

    relay.done.connect(finish_ok)
    relay.failed.connect(finish_error)
    QThreadPool.globalInstance().start(_Task(fn, relay))
