"""The application's shared objects, for CLI and GUI alike: paths, settings, the model registry,
the event hub, the engine, the library, the downloads and the code history. Each is made on first
use and closed by `close()`."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Optional

from .config import Settings, load_settings, save_settings
from .engine import Engine, ModelCache
from .engine.device import DeviceInfo
from .engine.events import EventHub
from .logs import setup_logging
from .models import ModelRegistry
from .models.network import apply_offline_mode
from .paths import Paths

if TYPE_CHECKING:
    from .library.controller import LibraryController
    from .codegen.history import HistoryStore
    from .library import Library
    from .models.download_service import DownloadService
    from .projects.watch import ProjectWatch
    from .models.clip_exports import ClipExports
    from .projects.embedder_exports import EmbedderExports

log = logging.getLogger(__name__)


class ContextClosed(RuntimeError):
    """Work asked of an application context after `close()`."""


class AppContext:
    """Created once per process. The engine starts on first use (its thread imports torch)."""

    def __init__(self, paths: Optional[Paths] = None, device: Optional[DeviceInfo] = None):
        self.paths = (paths or Paths.default()).ensure()
        self.log_file = setup_logging(self.paths.logs)
        self.settings: Settings = load_settings(self.paths.settings_file)
        self.registry = ModelRegistry(self.paths.models)
        apply_offline_mode(self.settings.offline_mode)
        self._device = device
        self.hub = EventHub()
        self._engine: Optional[Engine] = None
        self._library: Optional["Library"] = None
        self._downloads: Optional["DownloadService"] = None
        self._controller: Optional["LibraryController"] = None
        self._history: Optional["HistoryStore"] = None
        self._clip_exports: Optional["ClipExports"] = None
        self._embedder_exports: Optional["EmbedderExports"] = None
        self._project_watch: Optional["ProjectWatch"] = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def engine(self) -> Engine:
        with self._lock:  # two threads asking at once get one engine
            if self._engine is None:
                if self._closed:  # a late timer or queued event after close must not start a new thread
                    raise ContextClosed("the application is closing: no new work is started")
                settings = self.settings
                self._engine = Engine(
                    device=self._device,
                    device_preference=settings.device,
                    models_factory=lambda device: ModelCache.for_device(
                        device,
                        budget_bytes=int(settings.memory_budget_gb * 2**30),
                        idle_unload_s=settings.idle_unload_minutes * 60,
                    ),
                    hub=self.hub,
                ).start()
                # The text tower's CPU cache unloads after the user's idle time too (it kept a fixed
                # 10 minutes: unloaded and reloaded over and over in a long session, even with "Never").
                self._engine.cpu_models.idle_unload_s = settings.idle_unload_minutes * 60
            return self._engine

    @property
    def library_controller(self) -> "LibraryController":
        """The library's owner: watching, polling, scanning, indexing and tagging what is new."""
        with self._lock:
            if self._controller is None:
                if self._closed:
                    raise ContextClosed("the application is closing: the library is not looked after")
                from .library.controller import LibraryController

                self._controller = LibraryController(
                    lambda: self.library, self.registry, lambda: self.engine, lambda: self.clip_exports,
                    self.settings, self.save_settings, self.hub,
                )
            return self._controller

    @property
    def clip_exports(self) -> "ClipExports":
        """ONNX exports of the CLIP towers (queries and CPU indexing without torch), queued once per model."""
        with self._lock:
            if self._clip_exports is None:
                from .models.clip_exports import ClipExports

                self._clip_exports = ClipExports(lambda: self.engine)
            return self._clip_exports

    @property
    def embedder_exports(self) -> "EmbedderExports":
        """ONNX exports of the text-embedding models (code search without torch), queued once per model."""
        with self._lock:
            if self._embedder_exports is None:
                from .projects.embedder_exports import EmbedderExports

                self._embedder_exports = EmbedderExports(lambda: self.engine)
            return self._embedder_exports

    @property
    def project_watch(self) -> "ProjectWatch":
        """The watch on the Code page's project while the window is open."""
        with self._lock:
            if self._project_watch is None:
                if self._closed:
                    raise ContextClosed("the application is closing: no project is watched")
                from .projects.watch import ProjectWatch

                self._project_watch = ProjectWatch()
            return self._project_watch

    @property
    def library_opened(self) -> bool:
        """Whether the library's database is open (opening it may migrate it: not on the GUI thread)."""
        return self._library is not None

    @property
    def library(self) -> "Library":
        """The photo library (its database opens on first use)."""
        with self._lock:
            if self._library is None:
                if self._closed:
                    raise ContextClosed("the application is closing: the library stays closed")
                from .library import Library

                self._library = Library(self.paths, folders=self.settings.library_folders)
            return self._library

    @property
    def downloads(self) -> "DownloadService":
        with self._lock:
            if self._downloads is None:
                if self._closed:
                    raise ContextClosed("the application is closing: no download is started")
                from .models.download_service import DownloadService

                self._downloads = DownloadService(self.registry, self.paths.downloads, self.settings, self.hub)
            return self._downloads

    @property
    def code_history(self) -> "HistoryStore":
        """The code-generation history; opening it may raise (sqlite3.Error, OSError, a newer file)."""
        with self._lock:
            if self._history is None:
                from .codegen.history import HistoryStore

                self._history = HistoryStore(self.paths.code_history_db)
            return self._history

    @property
    def engine_started(self) -> bool:
        return self._engine is not None

    def save_settings(self) -> None:
        save_settings(self.settings, self.paths.settings_file)
        apply_offline_mode(self.settings.offline_mode)
        cache = self._engine.models_if_ready if self._engine is not None else None
        if cache is not None:
            cache.idle_unload_s = self.settings.idle_unload_minutes * 60
            if self.settings.memory_budget_gb:
                cache.budget_bytes = int(self.settings.memory_budget_gb * 2**30)
        if self._engine is not None:
            self._engine.cpu_models.idle_unload_s = self.settings.idle_unload_minutes * 60

    def close(self, timeout: Optional[float] = 30.0, release_models: bool = True) -> bool:
        """Stop downloads and the engine (running jobs stop at their next checkpoint; models are
        released unless the process ends right after), then close the stores they write to. A
        job still running after `timeout` seconds (one uninterruptible step) is left to end with
        the process: its store stays open, and what it had not committed is rolled back by
        SQLite, as after a crash. False when work is still running
        (that job, or device detection importing torch)."""
        stopped = True
        with self._lock:
            self._closed = True
            downloads, self._downloads = self._downloads, None
            library, self._library = self._library, None
            controller, self._controller = self._controller, None
            watch, self._project_watch = self._project_watch, None
            engine = self._engine
            self._history = None  # it opens a connection per call: nothing to close
        if watch is not None:
            watch.close()
        if controller is not None:  # a scan stops at its next file; quitting does not wait for it
            controller.close(timeout=min(1.0, timeout) if timeout is not None else 1.0)
        if downloads is not None:
            downloads.shutdown(timeout)
        if engine is not None:
            engine.shutdown(timeout, release_models)
            stopped = not engine.running and not engine.detecting_device
            if engine.running:
                library = None
            self._engine = None
        if library is not None:
            library.close()
        return stopped
