"""Downloads as jobs on their own thread (they do no model work, so never on the inference engine).

A `DownloadJob` looks like an engine `JobHandle` to whoever shows jobs (id, name, state,
progress, cancel, subscribe) and emits the same `JobEvent`s, so the Jobs panel lists it.
One download runs at a time; the thread exits when the queue is empty.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from typing import Any, Callable, Optional

from ..engine.jobs import EventKind, JobEvent, JobState, Priority, Progress
from ..engine.listeners import Listeners
from .catalogue import CatalogueEntry
from .download import DownloadCancelled, DownloadProgress, StopFlags, format_bytes

log = logging.getLogger(__name__)

EventCallback = Callable[[JobEvent], None]
# run(entry, on_progress, flags) -> InstalledModel
DownloadRunner = Callable[[CatalogueEntry, Callable[[DownloadProgress], None], StopFlags], Any]

# Negative ids never collide with the engine's job ids (which count up from 1).
_ids = itertools.count(-1, -1)


class DownloadJob:
    kind = "download"
    priority = Priority.BACKGROUND

    def __init__(self, entry: CatalogueEntry, queue: "DownloadQueue"):
        self.id: int = next(_ids)
        self.entry = entry
        self.name = f"Download {entry.name} ({format_bytes(entry.size_bytes)})"
        self.flags = StopFlags()
        self.progress: Optional[Progress] = None
        self.detail: Optional[DownloadProgress] = None
        self._queue = queue
        self._state = JobState.QUEUED
        self._done = threading.Event()
        self._result: Any = None
        self._error: Optional[BaseException] = None
        self._listeners: Listeners[JobEvent] = Listeners()

    def __repr__(self) -> str:
        return f"<DownloadJob {self.entry.id} {self._state.value}>"

    @property
    def state(self) -> JobState:
        return self._state

    @property
    def error(self) -> Optional[BaseException]:
        return self._error

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._done.wait(timeout)

    def result(self, timeout: Optional[float] = None) -> Any:
        if not self._done.wait(timeout):
            raise TimeoutError(f"{self.name} did not finish within {timeout} s")
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self) -> None:
        """Stop now and delete what was downloaded; a queued download never starts."""
        self.flags.cancel.set()
        self._queue._cancel_queued(self)

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        return self._listeners.add(callback)

    # -- queue side --------------------------------------------------------------------

    def _emit(self, kind: EventKind, payload: Any = None) -> None:
        event = JobEvent(kind, self, payload)  # type: ignore[arg-type]  # a JobHandle look-alike
        self._listeners.emit(event)
        self._queue._listeners.emit(event)

    def _report(self, detail: DownloadProgress) -> None:
        self.detail = detail
        # Progress in MB so the Jobs panel's "done / total" reads naturally.
        self.progress = Progress(
            round(detail.done_bytes / 1e6, 1), round(detail.total_bytes / 1e6, 1) or None, detail.describe()
        )
        self._emit(EventKind.PROGRESS, self.progress)

    def _finish(self, state: JobState, result: Any = None, error: Optional[BaseException] = None) -> None:
        self._result, self._error, self._state = result, error, state
        self._done.set()
        kind = {JobState.FINISHED: EventKind.FINISHED, JobState.CANCELLED: EventKind.CANCELLED}.get(
            state, EventKind.FAILED
        )
        self._emit(kind, result if state is JobState.FINISHED else error)


class DownloadQueue:
    def __init__(self, run: DownloadRunner):
        self._run = run
        self._pending: deque[DownloadJob] = deque()
        self._current: Optional[DownloadJob] = None
        self._listeners: Listeners[JobEvent] = Listeners()
        self._cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None

    def add_listener(self, callback: EventCallback) -> Callable[[], None]:
        return self._listeners.add(callback)

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
            job._state = JobState.RUNNING
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
