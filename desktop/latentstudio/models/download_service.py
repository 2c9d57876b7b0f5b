"""The application's downloads: the model catalogue and the one download queue, Qt-free."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..engine.events import EventHub
from .catalogue import Catalogue, CatalogueEntry, CatalogueError
from .download import RetryPolicy, download_model, staged_bytes
from .download_queue import DownloadJob, DownloadQueue

if TYPE_CHECKING:
    from ..config import Settings
    from ..engine import DeviceInfo
    from .registry import ModelRegistry

log = logging.getLogger(__name__)


class DownloadService:
    """Owned by `AppContext`; its jobs report to the context's event hub like engine jobs."""

    def __init__(self, registry: "ModelRegistry", staging: Path, settings: "Settings", hub: EventHub,
                 retry: RetryPolicy = RetryPolicy()):
        self.registry = registry
        self.staging = staging  # unfinished downloads, kept to resume
        self.settings = settings  # read at each start: offline mode may have changed
        self.retry = retry  # back-off between failed attempts (tests make it short)
        self.problem = ""
        try:
            self.catalogue = Catalogue.load()
        except CatalogueError as exc:
            log.error("%s", exc)
            self.catalogue = Catalogue([])
            self.problem = str(exc)
        self.queue = DownloadQueue(
            lambda entry, report, flags: download_model(
                entry, registry, staging, offline=settings.offline_mode, on_progress=report, flags=flags,
                retry=self.retry,
            ),
            hub,
        )

    def entries(self, kind: Optional[str] = None) -> list[CatalogueEntry]:
        return self.catalogue.for_kind(kind) if kind else list(self.catalogue.entries)

    def recommended(self, kind: str, device: Optional["DeviceInfo"]) -> Optional[CatalogueEntry]:
        return self.catalogue.recommended(kind, device)

    def installed_ids(self) -> set[str]:
        return {str(m.extra.get("catalogue_id") or m.id) for m in self.registry.list()}

    def partial_bytes(self, entry_id: str) -> int:
        """Bytes kept from an interrupted download of this model (it resumes from there)."""
        return staged_bytes(self.staging, entry_id)

    def job_for(self, entry_id: str) -> Optional[DownloadJob]:
        return self.queue.find(entry_id)

    def start(self, entry_id: str) -> DownloadJob:
        """Queue a download (the user asked for it). Offline mode makes it fail at once."""
        return self.queue.submit(self.catalogue.get(entry_id))

    def cancel(self, entry_id: str) -> None:
        job = self.queue.find(entry_id)
        if job is not None:
            job.cancel()

    def shutdown(self, timeout: Optional[float] = 10.0) -> None:
        """Stop downloads, keeping their partial files so they resume on the next start."""
        self.queue.shutdown(timeout=timeout)
