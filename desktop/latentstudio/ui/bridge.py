"""The one crossing from the core's event hub to the GUI thread.

The bridge listens to the application's `EventHub` (engine jobs, downloads, background library
work) and re-emits every event as a queued Qt signal, so no widget is ever touched from a worker
thread and every view of a job (page, Jobs panel, status bar) reads the same events in the same
order. Pages follow the jobs they started with `watch(handle, callback)`.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Qt, Signal

from ..context import AppContext
from ..engine import Engine, EventKind, JobEvent, Progress, TrackedJob

JobCallback = Callable[[JobEvent], None]


class EventBridge(QObject):
    jobEvent = Signal(object)  # JobEvent of any job, in the GUI thread
    queueChanged = Signal()
    deviceReady = Signal(object)  # DeviceInfo
    _arrived = Signal(object)  # emitted on worker threads, delivered in the GUI thread

    def __init__(self, ctx: AppContext, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.ctx = ctx
        self.engine: Optional[Engine] = None
        self._watchers: dict[int, list[JobCallback]] = {}
        # Queued even when the event comes from the GUI thread itself (a cancel of a waiting job):
        # a page always hears its job's events after the call that caused them has returned.
        self._arrived.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._detach: Optional[Callable[[], None]] = ctx.hub.add_listener(self._arrived.emit)

    def start_engine(self) -> Engine:
        """Start the engine (its thread imports torch); its events already flow through the hub."""
        if self.engine is None:
            self.engine = self.ctx.engine
            device = self.engine.device_if_ready
            if device is not None:
                self.deviceReady.emit(device)
            self.queueChanged.emit()
        return self.engine

    def watch(
        self,
        handle: TrackedJob,
        callback: Optional[JobCallback] = None,
        *,
        progress: Optional[Callable[[Progress], None]] = None,
        finished: Optional[Callable[[Any], None]] = None,
        failed: Optional[Callable[[BaseException], None]] = None,
        cancelled: Optional[Callable[[], None]] = None,
        ended: Optional[Callable[[], None]] = None,
    ) -> None:
        """Follow `handle` in the GUI thread, up to its final event: `callback` gets every event;
        `progress(Progress)`, `finished(result)`, `failed(error)` and `cancelled()` the one they
        name (a cancelled job is never reported as failed); `ended()` comes after the final one,
        whichever it was (to enable a button again).

        Call it right after submitting: events are delivered by the event loop, so none that
        the job sends meanwhile is missed."""
        named = {EventKind.PROGRESS: progress, EventKind.FINISHED: finished, EventKind.FAILED: failed}

        def deliver(event: JobEvent) -> None:
            if callback is not None:
                callback(event)
            if event.kind is EventKind.CANCELLED:
                if cancelled is not None:
                    cancelled()
            elif named.get(event.kind) is not None:
                named[event.kind](event.payload)
            if event.kind.final and ended is not None:
                ended()

        self._watchers.setdefault(handle.id, []).append(deliver)

    def detach(self) -> None:
        if self._detach is not None:
            self._detach()
        self._detach = None
        self._watchers.clear()

    def _deliver(self, event: JobEvent) -> None:
        if event.kind is EventKind.DEVICE_READY:
            self.deviceReady.emit(event.payload)
            return
        if event.kind is EventKind.QUEUE_CHANGED:
            self.queueChanged.emit()
            return
        self.jobEvent.emit(event)
        handle = event.handle
        if handle is None:
            return
        callbacks = self._watchers.get(handle.id, ())
        if event.kind.final:
            self._watchers.pop(handle.id, None)
        for callback in list(callbacks):
            callback(event)
