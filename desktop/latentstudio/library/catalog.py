"""`Library`: the store, the thumbnail cache and the in-memory vector matrices of one data home."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ..paths import Paths
from .scan import ScanProgress, ScanReport, scan_folders
from .store import Folder, LibraryStore
from .vectors import VectorIndex


class Library:
    def __init__(self, paths: Paths):
        self.paths = paths
        self.store = LibraryStore(paths.library_db)
        self.thumbnails = paths.thumbnails
        self._indexes: dict[str, VectorIndex] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._indexes.clear()
        self.store.close()

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

    def fresh_index(self, model: str) -> tuple[Optional[VectorIndex], Any]:
        """(the model's matrix if no write happened since it was read, else None; the generation).

        Call from one thread (the inference thread): generations come from its connection.
        """
        generation = self.store.generation()
        with self._lock:
            index = self._indexes.get(model)
        if index is not None and index.generation == generation:
            return index, generation
        return None, generation

    def load_index(self, model: str, generation: Any) -> VectorIndex:
        """Read the matrix on a private connection: safe on a helper thread."""
        with self.store.reader() as db:
            index = VectorIndex.load(db, model, generation)
        with self._lock:
            self._indexes[model] = index
        return index

    def vector_index(self, model: str) -> VectorIndex:
        """The model's matrix, reloaded when the database changed since it was read."""
        index, generation = self.fresh_index(model)
        return index if index is not None else self.load_index(model, generation)
