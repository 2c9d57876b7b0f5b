"""The in-memory vector index of one model, with the per-image columns that filters need.

Small libraries are searched exactly: vectors are unit length, so a float32 matrix-vector
product gives every score. From `ANN_FROM_ROWS` vectors on, an approximate index
(`ann_index.AnnIndex`, IVF over 8-bit codes) replaces the matrix: exact search stops
meeting the latency target there and 1M float32 vectors would need 2 GiB.

The index follows the database through its change log (`changes` table): a write costs
reading the rows that changed, not every vector again. Columns are kept sorted by image id
so approximate hits (image ids) map to their columns by binary search.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from . import store
from .ann_index import TRAIN_PER_LIST, AnnIndex, list_count

ANN_FROM_ROWS = 50_000  # chosen by tests/benchmarks/search_latency.py, see docs/benchmarks.md
FLOAT16_ABOVE_BYTES = 256 * 2**20  # an exact matrix beyond this (ANN disabled) is kept in float16
FETCH_ROWS = 20_000
SCORE_CHUNK_ROWS = 65_536  # float16 rows converted to float32 at a time: no float16 matmul on CPU
MIN_TRAINING_ROWS = 256
REGROW_FACTOR = 8  # rebuild the clusters once the library is this many times what they were trained for

COLUMNS = ("ids", "folder_ids", "dates", "sizes", "min_sides", "formats")
_COLUMN_TYPES = (np.int64, np.int32, np.float64, np.int64, np.int32, np.int16)


@dataclass
class VectorIndex:
    model: str
    version: int  # database version the rows were read at
    seq: int  # change-log position the rows were read at
    ids: np.ndarray  # int64 image ids, ascending
    matrix: Optional[np.ndarray]  # (N, D) float32 (float16 when huge); None when `ann` holds the vectors
    folder_ids: np.ndarray
    dates: np.ndarray  # EXIF date, else file mtime (POSIX seconds)
    sizes: np.ndarray  # file size in bytes
    min_sides: np.ndarray  # shorter side in pixels
    formats: np.ndarray  # codes into format_names
    format_names: list[str]
    ann: Optional[AnnIndex] = None
    saved: bool = False  # equal to the on-disk copy
    changes_since_save: Optional[int] = None  # None: no on-disk copy behind this index
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def dim(self) -> int:
        if self.ann is not None:
            return self.ann.dim
        return int(self.matrix.shape[1]) if self.matrix is not None and len(self) else 0

    @property
    def nbytes(self) -> int:
        held = sum(getattr(self, name).nbytes for name in COLUMNS)
        if self.ann is not None:
            return held + self.ann.nbytes
        return held + int(self.matrix.nbytes)

    # -- reading from the database --------------------------------------------------------------

    @classmethod
    def load(cls, db: sqlite3.Connection, model: str, ann_from: Optional[int] = ANN_FROM_ROWS) -> "VectorIndex":
        """Read every vector of `model` (one read snapshot, so the change-log position matches)."""
        db.execute("BEGIN")
        try:
            return cls._load(db, model, ann_from)
        finally:
            db.execute("COMMIT")

    @classmethod
    def _load(cls, db: sqlite3.Connection, model: str, ann_from: Optional[int]) -> "VectorIndex":
        version, seq = store.meta_value(db, "version"), store.change_seq(db)
        # An upper bound (cheap, from an index): rows without a vector are left out and trimmed.
        count = store.indexed_count(db)
        first = store.vector_rows(db, model, limit=1).fetchone()
        dim = len(first[6]) // 2 if first else 0
        ann = None
        matrix = None
        if ann_from is not None and count >= ann_from and dim:
            sample = cls._training_sample(db, model, dim, count)
            # Few vectors for this model (the others are still to be encoded): exact until more come.
            if len(sample) >= MIN_TRAINING_ROWS:
                ann = AnnIndex.train(sample, count)
        if ann is None:
            dtype = np.float16 if count * dim * 4 > FLOAT16_ABOVE_BYTES else np.float32
            matrix = np.empty((count, dim), dtype=dtype)
        columns = {name: np.empty(count, dtype=dtype) for name, dtype in zip(COLUMNS, _COLUMN_TYPES)}
        index = cls.empty(model, version, seq, ann)
        cursor = store.vector_rows(db, model)
        filled = 0
        while filled < count:
            fetched = cursor.fetchmany(FETCH_ROWS)
            if not fetched:
                break
            rows = [r for r in fetched if len(r[6]) == dim * 2][: count - filled]
            if not rows:
                continue
            end = filled + len(rows)
            vectors = index._decode(rows, dim, columns, filled)
            if ann is not None:
                ann.add(vectors.astype(np.float32), columns["ids"][filled:end])
            else:
                matrix[filled:end] = vectors
            filled = end
        for name in COLUMNS:
            setattr(index, name, columns[name][:filled])
        if matrix is not None:
            index.matrix = matrix[:filled]
        index._sort_by_id()
        return index

    @classmethod
    def empty(cls, model: str, version: int, seq: int, ann: Optional[AnnIndex] = None) -> "VectorIndex":
        columns = [np.empty(0, dtype=dtype) for dtype in _COLUMN_TYPES]
        return cls(model, version, seq, columns[0], None, *columns[1:], [], ann=ann)

    @staticmethod
    def _training_sample(db: sqlite3.Connection, model: str, dim: int, count: int) -> np.ndarray:
        """An evenly spread sample of the library's vectors to learn the clusters from."""
        wanted = list_count(count) * TRAIN_PER_LIST
        stride = max(1, count // wanted)
        rows = store.vector_rows(db, model, id_stride=stride).fetchall()
        blobs = [r[6] for r in rows if len(r[6]) == dim * 2]
        return np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(-1, dim).astype(np.float32)

    def _decode(self, rows: Sequence[tuple], dim: int, columns: dict[str, np.ndarray], at: int) -> np.ndarray:
        """Write the rows' columns into `columns` from position `at`; return their float16 vectors."""
        end = at + len(rows)
        values = list(zip(*rows))
        columns["ids"][at:end] = values[0]
        columns["folder_ids"][at:end] = values[1]
        columns["dates"][at:end] = [d or 0.0 for d in values[2]]
        columns["sizes"][at:end] = values[3]
        columns["min_sides"][at:end] = [s or 0 for s in values[4]]
        columns["formats"][at:end] = [self._format_code(name) for name in values[5]]
        return np.frombuffer(b"".join(values[6]), dtype=np.float16).reshape(-1, dim)

    def _format_code(self, name: Optional[str]) -> int:
        name = name or "unknown"
        try:
            return self.format_names.index(name)
        except ValueError:
            self.format_names.append(name)
            return len(self.format_names) - 1

    def _sort_by_id(self) -> None:
        if len(self) < 2 or bool(np.all(self.ids[1:] > self.ids[:-1])):
            return
        order = np.argsort(self.ids, kind="stable")
        for name in COLUMNS:
            setattr(self, name, getattr(self, name)[order])
        if self.matrix is not None:
            self.matrix = self.matrix[order]

    # -- following the database -----------------------------------------------------------------

    def catch_up(self, db: sqlite3.Connection, ann_from: Optional[int] = ANN_FROM_ROWS) -> bool:
        """Apply what changed since this index was read: the changed images' rows replace theirs.
        False (nothing changed here) when only a full read will do: the log was pruned past this
        index, most of the library changed, the vectors' size changed, or the library grew or shrank
        past what the approximate index was built for."""
        with self.lock:
            db.execute("BEGIN")
            try:
                if store.meta_value(db, "changes_floor") > self.seq:
                    return False
                seq, version = store.change_seq(db), store.meta_value(db, "version")
                changed = np.array(sorted(store.changed_since(db, self.seq)), dtype=np.int64)
                if len(changed) > max(1000, len(self) // 2):
                    return False
                rows = store.vector_rows_for(db, self.model, changed.tolist())
            finally:
                db.execute("COMMIT")
            return self._apply(changed, rows, ann_from, version, seq)

    def _apply(self, changed: np.ndarray, rows: list[tuple], ann_from: Optional[int], version: int, seq: int) -> bool:
        dim = self.dim or (len(rows[0][6]) // 2 if rows else 0)
        if any(len(r[6]) != dim * 2 for r in rows):
            return False
        keep = ~np.isin(self.ids, changed)
        size = int(keep.sum()) + len(rows)
        if self.ann is not None and (
            (ann_from is None or size < ann_from // 2) or size > REGROW_FACTOR * self.ann.trained_rows
        ):
            return False
        columns = {name: np.empty(len(rows), dtype=dtype) for name, dtype in zip(COLUMNS, _COLUMN_TYPES)}
        added = self._decode(rows, dim, columns, 0) if rows else np.empty((0, dim), dtype=np.float16)
        if self.ann is not None:
            self.ann.remove(self.ids[~keep])
            self.ann.add(added.astype(np.float32), columns["ids"])
        else:
            kept = self.matrix[keep] if len(self) else np.empty((0, dim), dtype=np.float32)
            self.matrix = np.concatenate([kept, added.astype(kept.dtype)])
        for name in COLUMNS:
            setattr(self, name, np.concatenate([getattr(self, name)[keep], columns[name]]))
        self._sort_by_id()
        if self.ann is None and ann_from is not None and size >= max(ann_from, MIN_TRAINING_ROWS):
            self._switch_to_ann()
        self.version, self.seq = version, seq
        if len(changed):
            self.saved = False
            if self.changes_since_save is not None:
                self.changes_since_save += len(changed)
        return True

    def _switch_to_ann(self) -> None:
        """The library grew past the exact-search size: cluster the vectors held in memory."""
        vectors = self.matrix
        step = max(1, len(self) // (list_count(len(self)) * TRAIN_PER_LIST))
        ann = AnnIndex.train(vectors[::step].astype(np.float32), len(self))
        for start in range(0, len(self), FETCH_ROWS):
            ann.add(vectors[start:start + FETCH_ROWS].astype(np.float32), self.ids[start:start + FETCH_ROWS])
        self.ann, self.matrix = ann, None

    # -- on-disk copy: a cold start reads one file and the change log, not a million rows --------

    def save(self, folder: Path) -> None:
        """Write the vectors and columns next to the database, replacing an older copy atomically."""
        with self.lock:
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
            try:
                if self.ann is not None:
                    self.ann.save(staging / "ann.faiss")
                    (staging / "trained_rows").write_text(str(self.ann.trained_rows))
                else:
                    np.save(staging / "matrix.npy", self.matrix)
                np.savez(staging / "columns.npz", **{name: getattr(self, name) for name in COLUMNS},
                         format_names=np.array(self.format_names, dtype=str))
                (staging / "seq").write_text(str(self.seq))
                (staging / "version").write_text(str(self.version))
                old = folder.with_name(f".{folder.name}-old")
                if self.ann is not None:
                    self.ann.unmap()  # a mapped file cannot be renamed or removed on Windows
                if folder.exists():
                    shutil.rmtree(old, ignore_errors=True)
                    os.replace(folder, old)
                os.replace(staging, folder)
                shutil.rmtree(old, ignore_errors=True)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            self.saved, self.changes_since_save = True, 0

    @classmethod
    def load_saved(cls, folder: Path, model: str) -> Optional["VectorIndex"]:
        """The saved copy as it was written (catch it up with `catch_up`), or None."""
        try:
            version = int((folder / "version").read_text())
            seq = int((folder / "seq").read_text())
            ann = matrix = None
            if (folder / "ann.faiss").is_file():
                ann = AnnIndex.read(folder / "ann.faiss", int((folder / "trained_rows").read_text()))
            else:
                matrix = np.load(folder / "matrix.npy", allow_pickle=False)
            with np.load(folder / "columns.npz", allow_pickle=False) as columns:
                data = {name: columns[name] for name in columns.files}
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        return cls(
            model, version, seq, data["ids"], matrix, data["folder_ids"], data["dates"], data["sizes"],
            data["min_sides"], data["formats"], [str(n) for n in data["format_names"]], ann=ann,
            saved=True, changes_since_save=0,
        )

    def needs_saving(self) -> bool:
        """No copy on disk yet, or enough changes since that catching up at start costs more."""
        if self.saved:
            return False
        return self.changes_since_save is None or self.changes_since_save >= max(1000, len(self) // 20)

    # -- exact scores ----------------------------------------------------------------------------

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine of every stored vector with a unit query vector (float32 array of N); exact
        indexes only. A float16 matrix is converted in chunks: CPUs have no fast float16 product."""
        if not len(self):
            return np.empty(0, dtype=np.float32)
        q = np.ascontiguousarray(query, dtype=np.float32)
        if self.matrix.dtype == np.float32:
            return self.matrix @ q
        out = np.empty(len(self), dtype=np.float32)
        for start in range(0, len(self), SCORE_CHUNK_ROWS):
            chunk = self.matrix[start:start + SCORE_CHUNK_ROWS].astype(np.float32)
            out[start:start + chunk.shape[0]] = chunk @ q
        return out

    def stored_vectors(self, db: sqlite3.Connection, image_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(image ids, float32 vectors) as stored in the database, for exact rescoring of
        approximate candidates; ids no longer in the database are left out."""
        found = store.vector_blobs(db, self.model, image_ids.tolist())
        kept = np.array([i for i in image_ids.tolist() if len(found.get(i, b"")) == self.dim * 2], dtype=np.int64)
        data = b"".join(found[i] for i in kept.tolist())
        return kept, np.frombuffer(data, dtype=np.float16).reshape(-1, self.dim).astype(np.float32)

    def positions(self, image_ids: np.ndarray) -> np.ndarray:
        """Column positions of image ids held in this index."""
        return np.searchsorted(self.ids, image_ids)

    def format_mask(self, names: set[str]) -> np.ndarray:
        wanted = [i for i, name in enumerate(self.format_names) if name in names]
        return np.isin(self.formats, wanted)
