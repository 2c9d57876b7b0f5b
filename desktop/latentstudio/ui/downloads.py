"""Model downloads for the window: the context's download service, with its events as Qt signals.

Downloads run on the download queue's own thread (`models/download_queue.py`), never on the
inference engine; their events come through the one event bridge, so the Jobs panel lists them
like any job. One controller per window, handed to the pages that offer downloads.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QCoreApplication, QObject, Signal

from ..context import AppContext
from ..engine import DeviceInfo, EventKind, JobEvent
from ..models.catalogue import CatalogueEntry
from ..models.download_queue import DownloadJob
from ..models.network import download_block_reason
from .bridge import EventBridge
from .model_actions import ModelActions


class DownloadController(QObject):
    jobEvent = Signal(object)  # JobEvent of a DownloadJob, delivered in the GUI thread
    recommendationsChanged = Signal()

    def __init__(self, ctx: AppContext, bridge: EventBridge, models: ModelActions, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.ctx = ctx
        self.service = ctx.downloads
        self.models = models
        self.device: Optional[DeviceInfo] = bridge.engine.device_if_ready if bridge.engine else None
        bridge.jobEvent.connect(self._job_event)
        bridge.deviceReady.connect(self._device_ready)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def problem(self) -> str:
        return self.service.problem

    def entries(self, kind: Optional[str] = None) -> list[CatalogueEntry]:
        return self.service.entries(kind)

    def recommended(self, kind: str) -> Optional[CatalogueEntry]:
        return self.service.recommended(kind, self.device)

    def installed_ids(self) -> set[str]:
        return self.service.installed_ids()

    def partial_bytes(self, entry_id: str) -> int:
        return self.service.partial_bytes(entry_id)

    def job_for(self, entry_id: str) -> Optional[DownloadJob]:
        """The model's download while it runs. One that has ended counts as gone: its last event
        reaches the window before the queue lets go of it, and the row showing that event must
        offer Download (or Resume) again."""
        job = self.service.job_for(entry_id)
        return None if job is None or job.state.done else job

    def blocked_reason(self) -> str:
        """Why Download is not offered now (offline switch or environment), or ""."""
        return download_block_reason(self.ctx.settings.offline_mode)

    def start(self, entry_id: str) -> DownloadJob:
        return self.service.start(entry_id)

    def cancel(self, entry_id: str) -> None:
        self.service.cancel(entry_id)

    def shutdown(self) -> None:
        self.service.shutdown()

    def _device_ready(self, device: DeviceInfo) -> None:
        self.device = device
        self.recommendationsChanged.emit()

    def _job_event(self, event: JobEvent) -> None:
        if event.handle is None or event.handle.kind != "download":
            return
        self.jobEvent.emit(event)
        if event.kind is EventKind.FINISHED:
            self.models.modelsChanged.emit()
