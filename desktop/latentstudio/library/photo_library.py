"""`Library`: the store, the thumbnail cache and the in-memory vector matrices of one data home."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ..models.registry import slugify
from ..paths import Paths
from .scan import ScanProgress, ScanReport, scan_folders
from .store import Folder, LibraryStore
from .store.recovery import Recovery, mark_suspect, open_store, write_backup
from .vectors import ANN_FROM_ROWS, VectorIndex

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class MomentMatrix:
    """Every indexed video's moments for one model: a row per moment."""

    ids: np.ndarray  # image id of each moment's video
    times: np.ndarray  # seconds from the video's start
    matrix: np.ndarray  # unit vectors, one row per moment
    version: int  # the store version they were read at
    stamp: tuple  # what the moments were read with: searchable videos and stored moments


SAVE_INDEX_FROM_ROWS = 50_000  # smaller libraries read their rows fast enough at start
PRUNE_LOG_ABOVE = 50_000  # change-log rows kept for a library too small to save its index


class Library:
    def __init__(self, paths: Paths, ann_from_rows: Optional[int] = ANN_FROM_ROWS,
                 folders: Sequence[str] = ()):
        """Opens the database, checking it first (it reads every page: not on the GUI thread). A
        damaged one is set aside and rebuilt (`recovery` says how); `folders` (those kept in
        Settings) come back into a rebuilt library."""
        self.paths = paths
        self.ann_from_rows = ann_from_rows  # approximate search from this many vectors (None: never)
        self.full_reads = 0  # times every vector was read from the database
        self.store: LibraryStore
        self.store, self.recovery = open_store(paths.library_db)
        self._untold = self.recovery
        if self.recovery is not None:
            self._restore_folders(folders)
        self.thumbnails = paths.thumbnails
        self._indexes: dict[str, VectorIndex] = {}
        self._loading: dict[str, tuple[int, Future[VectorIndex]]] = {}
        self._moments: dict[str, MomentMatrix] = {}
        self._lock = threading.Lock()
        self._words: Optional[ThreadPoolExecutor] = None

    def close(self) -> None:
        """Close the database, keeping a backup copy of it when it changed (a clean close)."""
        with self._lock:
            self._indexes.clear()
            self._moments.clear()
            words, self._words = self._words, None
        if words is not None:
            words.shutdown(wait=True)
        try:
            self.store.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file as the backup has it
            write_backup(self.store)
        except (sqlite3.Error, OSError) as exc:  # a full disk or a damaged file: the next open checks it
            log.warning("no backup of the library written: %s", exc)
        self.store.close()

    def _restore_folders(self, folders: Sequence[str]) -> None:
        known = {str(f.path) for f in self.folders()}
        for path in folders:
            if path not in known and Path(path).is_dir():
                try:
                    self.add_folder(Path(path))
                except ValueError as exc:  # inside a folder the backup has
                    log.info("folder %s not restored: %s", path, exc)

    def take_recovery(self) -> Optional[Recovery]:
        """How a damaged library was rebuilt at open, given once (to whoever tells the user)."""
        with self._lock:
            recovery, self._untold = self._untold, None
        return recovery

    def words_worker(self) -> ThreadPoolExecutor:
        """One thread that reads a query's keyword matches while the picture search runs (SQLite
        and faiss both let go of the GIL, so on two cores the words cost little extra time)."""
        with self._lock:
            if self._words is None:
                self._words = ThreadPoolExecutor(max_workers=1, thread_name_prefix="latent-words")
            return self._words

    # -- folders ----------------------------------------------------------------------------

    def folders(self) -> list[Folder]:
        return self.store.folders()

    def add_folder(self, path: Path, role: str = "user") -> Folder:
        path = Path(path).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"{path} is not a folder")
        return self.store.add_folder(path, role)

    def remove_folder(self, path: Path) -> int:
        return self.store.remove_folder(Path(path).expanduser())

    def folder_for(self, path: Path) -> Optional[Folder]:
        """The library folder containing `path`, if any."""
        path = Path(os.path.abspath(path))
        for folder in self.folders():
            if path.is_relative_to(folder.path):
                return folder
        return None

    def folder_ids_under(self, path: Path) -> set[int]:
        """Library folders inside `path`, or the one containing it."""
        path = Path(os.path.abspath(Path(path).expanduser()))
        folders = self.folders()
        inside = {f.id for f in folders if f.path.is_relative_to(path)}
        if inside:
            return inside
        return {f.id for f in folders if path.is_relative_to(f.path)}

    def scan(
        self,
        folders: Optional[Sequence[Path]] = None,
        progress: Optional[ScanProgress] = None,
        should_stop: Optional[Callable[[], bool]] = None,
    ) -> ScanReport:
        """Re-scan the given library folders (default: all, then drop unused vectors)."""
        known = self.folders()
        if folders is None:
            chosen = known
        else:
            wanted = {Path(os.path.abspath(Path(f).expanduser())) for f in folders}
            chosen = [f for f in known if f.path in wanted]
        return scan_folders(self.store, chosen, prune=folders is None, progress=progress, should_stop=should_stop)

    # -- vectors ----------------------------------------------------------------------------

    def fresh_index(self, model: str) -> tuple[Optional[VectorIndex], int]:
        """(the model's matrix if nothing was written since it was read, else None; the version)."""
        version = self.store.version()
        with self._lock:
            index = self._indexes.get(model)
        if index is not None and index.version == version:
            return index, version
        return None, version

    def saved_index_folder(self, model: str) -> Path:
        return self.paths.home / "vector-cache" / slugify(model)

    def load_index(self, model: str, version: int) -> VectorIndex:
        """The model's index brought up to date with the database (private connection: safe on a
        helper thread): the one in memory or the saved copy, caught up through the change log;
        every vector is read again only when neither can be."""
        with self._lock:
            index = self._indexes.get(model)
        try:
            with self.store.reader() as db:
                if index is None or not index.catch_up(db, self.ann_from_rows):
                    index = VectorIndex.load_saved(self.saved_index_folder(model), model)
                    if index is None or not index.catch_up(db, self.ann_from_rows):
                        index = VectorIndex.load(db, model, self.ann_from_rows)
                        self.full_reads += 1
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):  # locked, interrupted: not damage
                raise
            mark_suspect(self.store.path)  # the vectors are the part the check at open leaves out
            raise sqlite3.DatabaseError(
                f"the library file is damaged ({exc}); it is checked and rebuilt when the app or the "
                "next command opens it") from exc
        if len(index) < SAVE_INDEX_FROM_ROWS and index.seq - self.store.changes_floor() > PRUNE_LOG_ABOVE:
            # No saved copy prunes a small library's log; reading it in full is cheap for anyone behind.
            self.store.prune_changes(index.seq)
        with self._lock:
            self._indexes[model] = index
        return index

    def start_loading(self, model: str, version: int) -> "Future[VectorIndex]":
        """Read the matrix on a helper thread (one read per version, however many searches ask)."""
        with self._lock:
            pending = self._loading.get(model)
            if pending is not None and pending[0] == version:
                return pending[1]
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="latent-index-load")
            future = pool.submit(self.load_index, model, version)
            pool.shutdown(wait=False)  # the thread ends once the read is done
            self._loading[model] = (version, future)
            return future

    def should_save_index(self, model: str) -> bool:
        with self._lock:
            index = self._indexes.get(model)
        return index is not None and len(index) >= SAVE_INDEX_FROM_ROWS and index.needs_saving()

    def save_index(self, model: str) -> None:
        """Write the current index to disk so the next start skips reading the rows; the change
        log it covers is no longer needed."""
        with self._lock:
            index = self._indexes.get(model)
        if index is None or not index.needs_saving():
            return
        index.save(self.saved_index_folder(model))
        self.store.prune_changes(index.seq)

    def moments(self, model: str) -> MomentMatrix:
        """The videos' moments for `model`, read again when the searchable videos or their
        moments changed (a video becomes searchable in the write that stores its vector); other
        writes, such as a photo's vector, only check that."""
        version = self.store.version()
        with self._lock:
            cached = self._moments.get(model)
        if cached is not None and cached.version == version:
            return cached
        stamp = self.store.moments_stamp(model)
        if cached is not None and cached.stamp == stamp:
            moments = MomentMatrix(cached.ids, cached.times, cached.matrix, version, stamp)
        else:
            ids, times, matrix = self.store.all_moments(model)
            moments = MomentMatrix(ids, times, matrix, version, stamp)
        with self._lock:
            self._moments[model] = moments
        return moments

    def vector_index(self, model: str) -> VectorIndex:
        """The model's matrix, reloaded when the database changed since it was read."""
        index, version = self.fresh_index(model)
        return index if index is not None else self.load_index(model, version)
