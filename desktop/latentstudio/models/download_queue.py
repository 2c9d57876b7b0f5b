"""Downloads as jobs on their own thread (they do no model work, so never on the inference engine).

A `DownloadJob` is a `TrackedJob` like the engine's handles (id, name, state, progress, cancel,
subscribe) and emits the same `JobEvent`s, so the Jobs panel lists it.
One download runs at a time; the thread exits when the queue is empty.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any, Callable, Optional

from ..engine.events import EventHub
from ..engine.jobs import (
    EventCallback,
    EventKind,
    JobState,
    Priority,
    Progress,
    TrackedJob,
)
from ..units import format_bytes
from .catalogue import CatalogueEntry
from .download import DownloadCancelled, DownloadProgress, StopFlags

log = logging.getLogger(__name__)

# run(entry, on_progress, flags) -> InstalledModel
DownloadRunner = Callable[[CatalogueEntry, Callable[[DownloadProgress], None], StopFlags], Any]

class DownloadJob(TrackedJob):
    kind = "download"
    priority = Priority.BACKGROUND

    def __init__(self, entry: CatalogueEntry, queue: "DownloadQueue"):
        super().__init__(queue.hub)
        self.entry = entry
        self.name = f"Download {entry.name} ({format_bytes(entry.size_bytes)})"
        self.flags = StopFlags()
        self.detail: Optional[DownloadProgress] = None
        self._queue = queue

    def __repr__(self) -> str:
        return f"<DownloadJob {self.entry.id} {self._state.value}>"

    def cancel(self) -> None:
        """Stop now and delete what was downloaded; a queued download never starts."""
        self.flags.cancel.set()
        self._queue._cancel_queued(self)

    # -- queue side --------------------------------------------------------------------

    def _report(self, detail: DownloadProgress) -> None:
        self.detail = detail
        # Progress in MB so the Jobs panel's "done / total" reads naturally.
        self.progress = Progress(
            round(detail.done_bytes / 1e6, 1), round(detail.total_bytes / 1e6, 1) or None, detail.describe()
        )
        self._emit(EventKind.PROGRESS, self.progress)


class DownloadQueue:
    def __init__(self, run: DownloadRunner, hub: Optional[EventHub] = None):
        self._run = run
        self.hub = hub or EventHub()
        self._pending: deque[DownloadJob] = deque()
        self._current: Optional[DownloadJob] = None
        self._cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None

    def add_listener(self, callback: EventCallback) -> Callable[[], None]:
        return self.hub.add_listener(callback)

    def jobs(self) -> list[DownloadJob]:
        """The running download first, then the waiting ones."""
        with self._cond:
            return ([self._current] if self._current else []) + list(self._pending)

    def find(self, entry_id: str) -> Optional[DownloadJob]:
        return next((job for job in self.jobs() if job.entry.id == entry_id), None)

    def submit(self, entry: CatalogueEntry) -> DownloadJob:
        """Queue a download; the same model asked for twice gives the job already there."""
        with self._cond:
            existing = self.find(entry.id)
            if existing is not None:
                return existing
            job = DownloadJob(entry, self)
            self._pending.append(job)
            job._emit(EventKind.QUEUED)  # under the lock, so it always precedes STARTED
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="latent-downloads", daemon=True)
                self._thread.start()
        return job

    def shutdown(self, timeout: Optional[float] = 30.0) -> None:
        """Stop everything, keeping partial files so the downloads resume next time."""
        with self._cond:
            pending, self._pending = list(self._pending), deque()
            current, thread = self._current, self._thread
        if current is not None:
            current.flags.interrupt.set()
        for job in pending:
            job._finish(JobState.CANCELLED, error=DownloadCancelled("app closing", discard=False))
        if thread is not None:
            thread.join(timeout)

    def _cancel_queued(self, job: DownloadJob) -> None:
        with self._cond:
            if job not in self._pending:
                return
            self._pending.remove(job)
        job._finish(JobState.CANCELLED, error=DownloadCancelled("download cancelled"))

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._pending:
                    self._current = None
                    self._thread = None
                    return
                job = self._current = self._pending.popleft()
            job._set_state(JobState.RUNNING)
            job._emit(EventKind.STARTED)
            try:
                model = self._run(job.entry, job._report, job.flags)
            except DownloadCancelled as exc:
                job._finish(JobState.CANCELLED, error=exc)
            except Exception as exc:  # reported as the job's failure; the traceback goes to the log
                log.warning("download of %s failed: %s", job.entry.id, exc, exc_info=True)
                job._finish(JobState.FAILED, error=exc)
            else:
                job._finish(JobState.FINISHED, result=model)
