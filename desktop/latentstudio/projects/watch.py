"""Keep the chosen project fresh while the window is open: its folder is watched, and a change
to a file the index could hold (not under `.git`, `node_modules`, build output…) asks for a
refresh after a pause, so a save, a checkout or a formatter run costs one refresh, not hundreds.
The refresh itself (mtime/size, then hash) finds out what changed."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Optional

from .walk import DEFAULT_SPEC

log = logging.getLogger(__name__)

PAUSE_S = 2.0  # after the last change, before the refresh


class ProjectWatch:
    """Watches one project folder at a time (the Code page's); Qt-free, closed with the context."""

    def __init__(self, pause_s: float = PAUSE_S):
        self.pause_s = pause_s
        self._lock = threading.Lock()
        self._observer: Any = None
        self._root: Optional[Path] = None
        self._changed: Optional[Callable[[], None]] = None
        self._timer: Optional[threading.Timer] = None
        self._closed = False

    def follow(self, root: Optional[Path], changed: Callable[[], None]) -> None:
        """Watch `root` (None: nothing) and call `changed` (on a timer thread) a pause after its
        files change."""
        with self._lock:
            if self._closed:
                return
            self._changed = changed
            if root == self._root:
                return
            self._root = root
            self._cancel_timer()
            observer = self._observer
            if observer is None and root is not None:
                from watchdog.observers import Observer

                observer = self._observer = Observer()
                observer.name = "latent-project-watch"
                observer.daemon = True
                observer.start()
        if observer is None:
            return
        observer.unschedule_all()
        if root is not None:
            try:
                observer.schedule(_Handler(root, self._arm), str(root), recursive=True)
            except OSError as exc:  # the system's limit of watched folders: a refresh before each query still runs
                log.warning("not watching project %s (%s)", root, exc)

    def _arm(self) -> None:
        with self._lock:
            if self._closed or self._changed is None:
                return
            self._cancel_timer()
            self._timer = threading.Timer(self.pause_s, self._changed)
            self._timer.name = "latent-project-refresh"
            self._timer.daemon = True
            self._timer.start()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._cancel_timer()
            observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)


class _Handler:
    """Passes on changes to files the project index could hold."""

    def __init__(self, root: Path, changed: Callable[[], None]):
        self.root = str(root)
        self.changed = changed

    def dispatch(self, event: Any) -> None:
        if event.event_type in ("opened", "closed_no_write"):  # reads are not changes
            return
        paths = [event.src_path, getattr(event, "dest_path", "") or ""]
        for path in paths:
            if not path:
                continue
            rel = os.path.relpath(os.fsdecode(path), self.root).replace(os.sep, "/")
            # Excluded files, and anything inside an excluded folder (.git/objects/…, build/…).
            if rel.startswith("..") or DEFAULT_SPEC.match_file(rel) or DEFAULT_SPEC.match_file(rel + "/"):
                continue
            self.changed()
            return
