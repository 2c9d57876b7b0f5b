"""Model downloads for the GUI: the catalogue, the download queue and its events as Qt signals.

Downloads run on the queue's own thread (`models/download_queue.py`), never on the inference
engine. Their events are relayed to the GUI thread and also fed to the Jobs panel through the
engine bridge, so a download shows there like any job, with progress and Cancel.
"""

from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import QCoreApplication, QObject, Signal

from ..context import AppContext
from ..engine import DeviceInfo, EventKind, JobEvent
from ..models.catalogue import Catalogue, CatalogueEntry, CatalogueError
from ..models.download import download_for_app, staged_bytes
from ..models.download_queue import DownloadJob, DownloadQueue
from .bridge import EngineBridge
from .model_actions import ModelActions

log = logging.getLogger(__name__)


class DownloadController(QObject):
    jobEvent = Signal(object)  # JobEvent of a DownloadJob, delivered in the GUI thread
    recommendationsChanged = Signal()
    _relay = Signal(object)  # emitted on the download thread, received in the GUI thread

    def __init__(
        self,
        ctx: AppContext,
        bridge: EngineBridge,
        models: ModelActions,
        parent: Optional[QObject] = None,
    ):
        super().__init__(parent)
        self.ctx = ctx
        self.bridge = bridge
        self.models = models
        self.problem = ""
        try:
            self.catalogue = Catalogue.load()
        except CatalogueError as exc:
            log.error("%s", exc)
            self.catalogue = Catalogue([])
            self.problem = str(exc)
        self.device: Optional[DeviceInfo] = bridge.engine.device_if_ready if bridge.engine else None
        self.queue = DownloadQueue(lambda entry, report, flags: download_for_app(ctx, entry, report, flags))
        self._relay.connect(self._deliver)
        self._detach = self.queue.add_listener(self._relay.emit)
        bridge.deviceReady.connect(self._device_ready)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- queries -------------------------------------------------------------------------

    def entries(self, kind: Optional[str] = None) -> list[CatalogueEntry]:
        return self.catalogue.for_kind(kind) if kind else list(self.catalogue.entries)

    def recommended(self, kind: str) -> Optional[CatalogueEntry]:
        return self.catalogue.recommended(kind, self.device)

    def installed_ids(self) -> set[str]:
        return {str(m.extra.get("catalogue_id") or m.id) for m in self.ctx.registry.list()}

    def partial_bytes(self, entry_id: str) -> int:
        """Bytes kept from an interrupted download of this model (it resumes from there)."""
        return staged_bytes(self.ctx.paths.downloads, entry_id)

    def job_for(self, entry_id: str) -> Optional[DownloadJob]:
        return self.queue.find(entry_id)

    # -- actions -------------------------------------------------------------------------

    def start(self, entry_id: str) -> DownloadJob:
        """Queue a download (the user clicked Download). Offline mode makes it fail at once."""
        return self.queue.submit(self.catalogue.get(entry_id))

    def cancel(self, entry_id: str) -> None:
        job = self.queue.find(entry_id)
        if job is not None:
            job.cancel()

    def shutdown(self) -> None:
        """Stop downloads, keeping their partial files so they resume on the next start."""
        self.queue.shutdown(timeout=10)

    # -- events --------------------------------------------------------------------------

    def _device_ready(self, device: DeviceInfo) -> None:
        self.device = device
        self.recommendationsChanged.emit()

    def _deliver(self, event: JobEvent) -> None:
        self.bridge.jobEvent.emit(event)  # the Jobs panel lists downloads with the engine's jobs
        self.jobEvent.emit(event)
        if event.kind is EventKind.FINISHED:
            self.models.modelsChanged.emit()
