"""The one crossing from the core's event hub to the GUI thread.

The bridge listens to the application's `EventHub` (engine jobs, downloads, background library
work) and re-emits every event as a queued Qt signal, so no widget is ever touched from a worker
thread and every view of a job (page, Jobs panel, status bar) reads the same events in the same
order. Pages follow the jobs they started with `watch(handle, callback)`.
"""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import QObject, Qt, Signal

from ..context import AppContext
from ..engine import Engine, EventKind, JobEvent, TrackedJob

FINAL_EVENTS = (EventKind.FINISHED, EventKind.FAILED, EventKind.CANCELLED)
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

    def watch(self, handle: TrackedJob, callback: JobCallback) -> None:
        """Call `callback` in the GUI thread with each event of `handle`, up to its final one.

        Call it right after submitting: events are delivered by the event loop, so none that
        the job sends meanwhile is missed."""
        self._watchers.setdefault(handle.id, []).append(callback)

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
        if event.kind in FINAL_EVENTS:
            self._watchers.pop(handle.id, None)
        for callback in list(callbacks):
            callback(event)
