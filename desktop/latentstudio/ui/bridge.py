"""Re-emit the engine's plain callbacks as Qt signals, delivered in the GUI thread."""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import QObject, Signal

from ..engine import Engine, EventKind, JobEvent


class EngineBridge(QObject):
    """Lives in the GUI thread; the engine calls `_on_event` from its own thread.

    Signals emitted from another thread reach GUI-thread receivers as queued calls,
    so no widget is ever touched from the engine thread.
    """

    jobEvent = Signal(object)  # JobEvent
    queueChanged = Signal()
    deviceReady = Signal(object)  # DeviceInfo

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.engine: Optional[Engine] = None
        self._detach: Optional[Callable[[], None]] = None

    def attach(self, engine: Engine) -> None:
        if self.engine is engine:
            return
        self.detach()
        self.engine = engine
        self._detach = engine.add_listener(self._on_event)
        device = engine.device_if_ready
        if device is not None:
            self.deviceReady.emit(device)
        self.queueChanged.emit()

    def detach(self) -> None:
        if self._detach is not None:
            self._detach()
        self._detach = None
        self.engine = None

    def _on_event(self, event: JobEvent) -> None:
        if event.kind is EventKind.DEVICE_READY:
            self.deviceReady.emit(event.payload)
        elif event.kind is EventKind.QUEUE_CHANGED:
            self.queueChanged.emit()
        else:
            self.jobEvent.emit(event)
