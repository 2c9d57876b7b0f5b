"""The photo library's owner: it watches the folders, polls them, scans them, indexes what is new
(here or on the Ray cluster set in Settings) and tags what indexing added.

Qt-free and owned by AppContext; pages ask it (add, remove, rescan, cancel) and show what it does
from the one event stream: its folder work runs as tracked jobs on its own thread, in order, so
scans appear in the Jobs panel with progress and Cancel like the engine's jobs, and a scan stops
at its next file when cancelled or when the app quits.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..engine import EventKind, JobEvent, JobHandle, JobState, Priority, Progress, TrackedJob
from .scan import ScanReport

if TYPE_CHECKING:
    from ..config import Settings
    from ..engine import Engine
    from ..engine.events import EventHub
    from ..models import ModelRegistry
    from ..models.clip_exports import ClipExports
    from .photo_library import Library

log = logging.getLogger(__name__)

RESCAN_DELAY_S = 3.0  # after a watched folder changes, wait for a copy to settle
POLL_INTERVAL_S = 300.0  # catches what a watcher misses (network drives, a full inotify table)
SCAN = "scan"
FOLDER = "folder"  # adding or removing a library folder


class UpkeepJob(TrackedJob):
    """Folder work on the controller's thread. Cancel takes a waiting job out and stops a running
    scan at its next file; what it committed stays."""

    priority = Priority.BACKGROUND

    def __init__(self, hub: "EventHub", name: str, kind: str, work: Callable[["UpkeepJob"], Any]):
        super().__init__(hub)
        self.name = name
        self.kind = kind
        self._work = work
        self._stop = threading.Event()

    def __repr__(self) -> str:
        return f"<UpkeepJob #{self.id} {self.name!r} {self._state.value}>"

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def cancel(self) -> None:
        self._stop.set()
        if self._state is JobState.QUEUED:
            self._finish(JobState.CANCELLED)

    def report(self, done: float, total: Optional[float] = None, message: str = "") -> None:
        self.progress = Progress(done, total, message)
        self._emit(EventKind.PROGRESS, self.progress)

    def _run(self) -> None:
        with self._finishing:
            if self._state.done:  # cancelled while it waited
                return
            self._state = JobState.RUNNING
        self._emit(EventKind.STARTED)
        try:
            result = self._work(self)
        except Exception as exc:  # a folder that cannot be read, a database error: said in the window
            if self._stop.is_set():  # quitting interrupted its statement: stopped, not failed
                log.info("%s stopped: %s", self.name, exc)
                self._finish(JobState.CANCELLED)
                return
            log.exception("%s failed", self.name)
            self._finish(JobState.FAILED, error=exc)
            return
        self._finish(JobState.CANCELLED if self._stop.is_set() else JobState.FINISHED, result)


@dataclass
class FolderChange:
    """What adding or removing a folder did: `removed` images, or why the folder was refused."""

    path: Path
    added: bool
    removed: int = 0
    refused: str = ""


@dataclass
class IndexPlan:
    """Where the next index encodes: `where` (" on the cluster at …" or ""), and when the cluster
    set in Settings cannot be used, why (`fallback`)."""

    where: str = ""
    fallback: str = ""
    handle: Optional[JobHandle] = field(default=None, repr=False)


class LibraryController:
    def __init__(
        self,
        open_library: Callable[[], "Library"],
        registry: "ModelRegistry",
        engine: Callable[[], "Engine"],
        exports: Callable[[], "ClipExports"],
        settings: "Settings",
        save_settings: Callable[[], None],
        hub: "EventHub",
        rescan_delay_s: float = RESCAN_DELAY_S,
        poll_interval_s: float = POLL_INTERVAL_S,
    ):
        self._open_library = open_library
        self.registry = registry
        self._engine = engine
        self._exports = exports
        self.settings = settings
        self._save_settings = save_settings
        self.hub = hub
        self.rescan_delay_s = rescan_delay_s
        self.poll_interval_s = poll_interval_s
        self.index = IndexPlan()
        self._jobs: deque[UpkeepJob] = deque()
        self._current: Optional[UpkeepJob] = None
        self._cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._timers: dict[str, threading.Timer] = {}
        self._observer: Any = None  # watchdog's Observer, once folders are watched
        self._watched: set[str] = set()
        self._started = False
        self._closed = False

    # -- what pages ask -----------------------------------------------------------------------

    def start(self) -> None:
        """Begin upkeep (the window calls it after its first paint): folders kept in Settings but
        missing from the database come back, every folder is scanned, watched and polled."""
        with self._cond:
            if self._started or self._closed:
                return
            self._started = True
        self._queue(UpkeepJob(self.hub, "Restore library folders", FOLDER, self._restore_folders))
        self.rescan()
        self._arm("poll", self.poll_interval_s, self._poll)

    def rescan(self) -> Optional[UpkeepJob]:
        """Scan every folder for new, changed, moved and removed pictures, then index what is new.
        A scan waiting last in the queue is the one returned; one that runs, or waits before a
        folder job (a folder added while the start-up scan waited), is followed by a new one."""
        with self._cond:
            if self._closed:
                return None
            if self._jobs and self._jobs[-1].kind == SCAN:
                return self._jobs[-1]
        return self._queue(UpkeepJob(self.hub, "Scan library folders", SCAN, self._scan))

    def add_folder(self, path: Path) -> Optional[UpkeepJob]:
        """Add a folder (its pictures are scanned and indexed next); refused with the reason when it
        is not a folder or is already in the library."""
        path = Path(os.path.abspath(Path(path).expanduser()))
        job = self._queue(UpkeepJob(self.hub, f"Add {path}", FOLDER, lambda job: self._add(path)))
        self.rescan()
        return job

    def remove_folder(self, path: Path) -> Optional[UpkeepJob]:
        """Take a folder out of the library (its files are never touched)."""
        return self._queue(UpkeepJob(self.hub, f"Remove {path}", FOLDER, lambda job: self._remove(Path(path))))

    @property
    def busy(self) -> bool:
        """Folder work waits or runs."""
        with self._cond:
            return self._current is not None or bool(self._jobs)

    @property
    def scanning(self) -> bool:
        with self._cond:
            return any(job.kind == SCAN for job in ([self._current] if self._current else []) + list(self._jobs))

    def cancel(self) -> None:
        """Stop the scan and the indexing (what they committed stays; Rescan resumes)."""
        with self._cond:
            jobs = ([self._current] if self._current else []) + list(self._jobs)
        for job in jobs:
            if job.kind == SCAN:
                job.cancel()
        if self.index.handle is not None:
            self.index.handle.cancel()

    def close(self, timeout: float = 1.0) -> None:
        """Stop watching and polling, cancel folder work (a scan stops at its next file) and wait
        up to `timeout` for the thread: quitting never waits for a scan to run out."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            timers, self._timers = list(self._timers.values()), {}
            observer, self._observer = self._observer, None
            jobs = ([self._current] if self._current else []) + list(self._jobs)
            thread = self._thread
            self._cond.notify_all()
        for timer in timers:
            timer.cancel()
        for job in jobs:
            job.cancel()
        if observer is not None:
            observer.stop()
            observer.join(timeout)
        if thread is not None:
            thread.join(timeout)

    # -- the upkeep thread --------------------------------------------------------------------

    def _queue(self, job: UpkeepJob) -> Optional[UpkeepJob]:
        with self._cond:
            if self._closed:
                return None
            self._jobs.append(job)
            job._emit(EventKind.QUEUED)  # under the lock: it always precedes STARTED
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="latent-library", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return job

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if self._closed:
                    pending, self._jobs = list(self._jobs), deque()
                    break
                self._current = self._jobs.popleft()
            try:
                self._current._run()
            finally:
                with self._cond:
                    self._current = None
        for job in pending:
            job.cancel()

    def _restore_folders(self, job: UpkeepJob) -> list[str]:
        """Folders kept in Settings but missing from the database (e.g. after it was deleted)."""
        library = self._open_library()
        known = {str(f.path) for f in library.folders()}
        restored = []
        for path in self.settings.library_folders:
            if path not in known and Path(path).is_dir():
                try:
                    library.add_folder(Path(path))
                    restored.append(path)
                except ValueError as exc:
                    log.warning("could not restore library folder %s: %s", path, exc)
        self._watch(library)
        return restored

    def _add(self, path: Path) -> FolderChange:
        library = self._open_library()
        try:
            library.add_folder(path)
        except (ValueError, OSError) as exc:  # not a folder, already inside one
            log.warning("could not add %s: %s", path, exc)
            return FolderChange(path, added=True, refused=str(exc))
        self._remember_folders(library)
        self._watch(library)
        return FolderChange(path, added=True)

    def _remove(self, path: Path) -> FolderChange:
        library = self._open_library()
        removed = library.remove_folder(path)
        self._remember_folders(library)
        self._watch(library)
        return FolderChange(path, added=False, removed=removed)

    def _remember_folders(self, library: "Library") -> None:
        from .service import remember_folders

        remember_folders(library, self.settings, self._save_settings)

    def _scan(self, job: UpkeepJob) -> ScanReport:
        library = self._open_library()
        report = library.scan(progress=job.report, should_stop=lambda: job.stopping)
        if not job.stopping:
            self._watch(library)
            self._index_if_pending(library)
        return report

    # -- indexing -----------------------------------------------------------------------------

    def _index_if_pending(self, library: "Library") -> None:
        """Encode what waits for a vector (one index job at a time), then tag the new pictures.
        Runs on the upkeep thread only, so two scans never start two index jobs."""
        model = self.registry.default("clip")
        if self._closed or model is None or not library.store.has_pending(model.id):
            return
        if self.index.handle is not None and not self.index.handle.done():
            return
        plan = self._plan(self.settings.cluster_address)
        self.index = plan  # before the job exists: a page reads it with the job's first event
        on_event = lambda event: self._indexed(library, event)  # noqa: E731
        if plan.where:
            from . import cluster_index

            plan.handle = cluster_index.index_on_cluster(self._engine(), self.registry, library,
                                                         cluster_index.ClusterPlan(self.settings.cluster_address),
                                                         on_event=on_event)
        else:
            from .service import index_library

            plan.handle = index_library(self._engine(), self.registry, library, self._exports(), on_event=on_event)

    @staticmethod
    def _plan(address: str) -> IndexPlan:
        """Where the next index encodes: on the Ray cluster set in Settings when it can, else
        here (with the reason when a cluster was asked for)."""
        if not address:
            return IndexPlan()
        from .cluster_setup import ClusterError, require_cluster_support

        try:
            require_cluster_support()
        except ClusterError as exc:
            log.warning("indexing here instead of on the cluster: %s", exc)
            return IndexPlan(fallback=str(exc))
        return IndexPlan(where=f" on the cluster at {address}")

    def _indexed(self, library: "Library", event: JobEvent) -> None:
        if event.kind is EventKind.FINISHED and event.payload.encoded and not self._closed:
            from .analysis.service import tag_library

            tag_library(self._engine(), self.registry, library)  # new pictures get their tags

    # -- watching and polling -----------------------------------------------------------------

    def _watch(self, library: "Library") -> None:
        """Watch every library folder (with its subfolders); a change rescans after a pause."""
        wanted = {str(f.path) for f in library.folders() if f.path.is_dir()}
        with self._cond:
            if self._closed or wanted == self._watched:
                return
            self._watched = wanted
            observer = self._observer
            if observer is None:
                from watchdog.observers import Observer

                observer = self._observer = Observer()
                observer.name = "latent-library-watch"
                observer.daemon = True
                observer.start()
        handler = _Changed(lambda: self._arm("rescan", self.rescan_delay_s, self.rescan))
        observer.unschedule_all()
        for path in sorted(wanted):
            try:
                observer.schedule(handler, path, recursive=True)
            except OSError as exc:  # e.g. the system's limit of watched folders: polling still sees it
                log.warning("not watching %s (%s); it is polled every %d minutes", path, exc,
                            self.poll_interval_s // 60)

    def _poll(self) -> None:
        self.rescan()
        self._arm("poll", self.poll_interval_s, self._poll)

    def _arm(self, name: str, delay_s: float, action: Callable[[], Any]) -> None:
        """Run `action` after `delay_s`, replacing a timer of the same name that has not fired."""
        with self._cond:
            if self._closed:
                return
            previous = self._timers.pop(name, None)
            timer = self._timers[name] = threading.Timer(delay_s, action)
            timer.name = f"latent-library-{name}"
            timer.daemon = True
            timer.start()
        if previous is not None:
            previous.cancel()


class _Changed:
    """A watchdog handler that only says something changed (the scan finds out what)."""

    def __init__(self, changed: Callable[[], None]):
        self._changed = changed

    def dispatch(self, event: Any) -> None:
        if event.event_type not in ("opened", "closed_no_write"):  # reads are not changes
            self._changed()
