"""The in-memory vector matrix of one model, with the per-image columns that filters need.

Exact cosine search: vectors are unit length, so a matrix-vector product gives every
score. The matrix is float32 while it is small and float16 above `FLOAT16_ABOVE_BYTES`
(1M × 512 then takes 1 GiB instead of 2). It is read from SQLite in chunks into a
preallocated array, so loading never holds a second copy of the data.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np


FLOAT16_ABOVE_BYTES = 256 * 2**20  # float32 size beyond which the matrix is kept in float16
FETCH_ROWS = 20_000

QUERY = (
    "SELECT i.id, i.folder_id, COALESCE(i.taken, i.mtime), i.size, MIN(i.width, i.height), "
    "i.format, v.data FROM images i JOIN vectors v ON v.hash = i.hash AND v.model = ? "
    "WHERE i.status = 'ok'"
)


@dataclass
class VectorIndex:
    model: str
    version: int  # database version the rows were read at
    ids: np.ndarray  # int64 image ids
    matrix: Any  # torch tensor (N, D), float32 or float16
    folder_ids: np.ndarray
    dates: np.ndarray  # EXIF date, else file mtime (POSIX seconds)
    sizes: np.ndarray  # file size in bytes
    min_sides: np.ndarray  # shorter side in pixels
    formats: np.ndarray  # codes into format_names
    format_names: list[str]
    saved: bool = False  # read from (or written to) the on-disk copy

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1]) if len(self) else 0

    @property
    def nbytes(self) -> int:
        arrays = (self.ids, self.folder_ids, self.dates, self.sizes, self.min_sides, self.formats)
        return int(self.matrix.element_size() * self.matrix.nelement()) + sum(a.nbytes for a in arrays)

    @classmethod
    def load(cls, db: sqlite3.Connection, model: str, version: int = 0) -> "VectorIndex":
        import torch

        # An upper bound (cheap, from an index): rows without a vector are left out and trimmed.
        count = db.execute("SELECT COUNT(*) FROM images WHERE status = 'ok'").fetchone()[0]
        first = db.execute(QUERY + " LIMIT 1", (model,)).fetchone()
        dim = len(first[6]) // 2 if first else 0
        matrix = np.empty((count, dim), dtype=np.float16)
        ids = np.empty(count, dtype=np.int64)
        folder_ids = np.empty(count, dtype=np.int32)
        dates = np.empty(count, dtype=np.float64)
        sizes = np.empty(count, dtype=np.int64)
        min_sides = np.empty(count, dtype=np.int32)
        formats = np.empty(count, dtype=np.int16)
        format_names: list[str] = []
        format_codes: dict[Optional[str], int] = {}
        cursor = db.execute(QUERY, (model,))
        filled = 0
        while filled < count:
            rows = cursor.fetchmany(FETCH_ROWS)
            if not rows:
                break
            rows = [r for r in rows if len(r[6]) == dim * 2][: count - filled]
            if not rows:
                continue
            end = filled + len(rows)
            columns = list(zip(*rows))
            ids[filled:end] = columns[0]
            folder_ids[filled:end] = columns[1]
            dates[filled:end] = [d or 0.0 for d in columns[2]]
            sizes[filled:end] = columns[3]
            min_sides[filled:end] = [s or 0 for s in columns[4]]
            for i, name in enumerate(columns[5]):
                code = format_codes.get(name)
                if code is None:
                    code = format_codes[name] = len(format_names)
                    format_names.append(name or "unknown")
                formats[filled + i] = code
            matrix[filled:end] = np.frombuffer(b"".join(columns[6]), dtype=np.float16).reshape(-1, dim)
            filled = end
        arrays = [a[:filled] for a in (ids, folder_ids, dates, sizes, min_sides, formats)]
        matrix = matrix[:filled]
        if matrix.nbytes * 2 <= FLOAT16_ABOVE_BYTES:
            tensor = torch.from_numpy(matrix.astype(np.float32))
        else:
            tensor = torch.from_numpy(matrix)
        return cls(model, version, arrays[0], tensor, *arrays[1:], format_names)

    # -- on-disk copy: a cold start reads one file instead of a million rows ---------------------

    def save(self, folder: Path) -> None:
        """Write the matrix and columns next to the database, replacing an older copy atomically."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            np.save(staging / "matrix.npy", self.matrix.numpy())
            np.savez(
                staging / "columns.npz",
                ids=self.ids, folder_ids=self.folder_ids, dates=self.dates, sizes=self.sizes,
                min_sides=self.min_sides, formats=self.formats,
                format_names=np.array(self.format_names, dtype=str),
            )
            (staging / "version").write_text(str(self.version))
            old = folder.with_name(f".{folder.name}-old")
            if folder.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(folder, old)
            os.replace(staging, folder)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    @classmethod
    def load_saved(cls, folder: Path, model: str, version: int) -> Optional["VectorIndex"]:
        """The saved copy if it was written at this database version, else None."""
        import torch

        try:
            if int((folder / "version").read_text()) != version:
                return None
            matrix = np.load(folder / "matrix.npy", allow_pickle=False)
            with np.load(folder / "columns.npz", allow_pickle=False) as columns:
                data = {name: columns[name] for name in columns.files}
        except (OSError, ValueError, KeyError):
            return None
        return cls(
            model, version, data["ids"], torch.from_numpy(matrix), data["folder_ids"], data["dates"],
            data["sizes"], data["min_sides"], data["formats"], [str(n) for n in data["format_names"]],
            saved=True,
        )

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine of every stored vector with a unit query vector (float32 array of N)."""
        import torch

        if not len(self):
            return np.empty(0, dtype=np.float32)
        q = torch.from_numpy(np.ascontiguousarray(query, dtype=np.float32)).to(self.matrix.dtype)
        with torch.inference_mode():
            return (self.matrix @ q).float().numpy()

    def format_mask(self, names: set[str]) -> np.ndarray:
        wanted = [i for i, name in enumerate(self.format_names) if name in names]
        return np.isin(self.formats, wanted)
