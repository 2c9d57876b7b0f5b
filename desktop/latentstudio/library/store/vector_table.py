"""Vectors by (content hash, model), what waits for one, and generated images' CLIP scores (a
mixin of LibraryStore), plus the reads the in-memory search index makes."""

from __future__ import annotations

import sqlite3
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

from .rows import ID_CHUNK, IMAGE_COLUMNS, DecodedInfo, ImageRow, image_row, vector_blob


# Readable so far, and not decoded yet (a file back in the library whose vector stayed: the scan
# has no metadata for it) or without a vector for the model (`?`).
WAITING = (
    "status != 'skipped' AND hash IS NOT NULL AND (status = 'pending' OR NOT EXISTS "
    "(SELECT 1 FROM vectors v WHERE v.hash = images.hash AND v.model = ?))"
)


class VectorRows:
    def has_vectors(self, model: str) -> bool:
        """Whether any image has a `model` vector: stops at the first one found."""
        return self.connection().execute(
            "SELECT EXISTS(SELECT 1 FROM vectors WHERE model = ?)", (model,)).fetchone()[0] == 1

    def has_pending(self, model: str) -> bool:
        """Whether any image still waits for a `model` vector: stops at the first one found."""
        return self.connection().execute(
            f"SELECT EXISTS(SELECT 1 FROM images WHERE {WAITING})",
            (model,),
        ).fetchone()[0] == 1

    def pending(self, model: str, image_ids: Optional[Sequence[int]] = None) -> list[ImageRow]:
        """Images still to decode or encode for `model` (the encoder reuses a vector that exists)."""
        sql = f"SELECT {IMAGE_COLUMNS} FROM images WHERE {WAITING}"
        db = self.connection()
        if image_ids is None:
            rows = [image_row(r) for r in db.execute(sql + " ORDER BY id", (model,))]
        else:
            ids = list(image_ids)
            rows = []
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += [image_row(r) for r in db.execute(sql + f" AND id IN ({marks})", (model, *chunk))]
            rows.sort(key=lambda r: r.id)
        # One encode per distinct content: duplicates get the vector through their hash.
        seen: set[str] = set()
        unique = []
        for row in rows:
            if row.hash not in seen:
                seen.add(row.hash)  # type: ignore[arg-type]
                unique.append(row)
        return unique

    def waiting_files(self, model: Optional[str], limit: int) -> tuple[int, list[str]]:
        """(how many, the first `limit` paths) of the images waiting to be indexed for `model` (with
        no model: those not decoded yet), every copy of a content listed."""
        where, args = (WAITING, (model,)) if model else ("status = 'pending'", ())
        db = self.connection()
        total = int(db.execute(f"SELECT COUNT(*) FROM images WHERE {where}", args).fetchone()[0])
        rows = db.execute(f"SELECT path FROM images WHERE {where} ORDER BY path LIMIT ?", (*args, limit))
        return total, [r[0] for r in rows]

    def record_batch(
        self,
        model: str,
        encoded: Sequence[tuple[ImageRow, DecodedInfo, np.ndarray]],
        skipped: Sequence[tuple[ImageRow, str]],
    ) -> None:
        """Commit one batch: vectors with their decoded metadata, and files that failed."""
        with self.transaction() as db:
            for row, info, vector in encoded:
                db.execute(
                    "INSERT OR REPLACE INTO vectors(hash, model, dim, data) VALUES(?, ?, ?, ?)",
                    (row.hash, model, int(vector.shape[0]), vector_blob(vector)),
                )
                db.execute(
                    "UPDATE images SET status='ok', reason=NULL, width=?, height=?, taken=?, format=?, "
                    "duration=?, codec=? WHERE hash = ? AND status != 'skipped'",
                    (info.width, info.height, info.taken, info.format, info.duration, info.codec, row.hash),
                )
            for row, reason in skipped:
                db.execute("UPDATE images SET status='skipped', reason=? WHERE hash = ?", (reason, row.hash))

    def stored_vectors(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Content hash → its stored `model` vector, for those that have one."""
        hashes = list(hashes)
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), ID_CHUNK):
            chunk = hashes[start : start + ID_CHUNK]
            for digest, data in self.connection().execute(
                f"SELECT hash, data FROM vectors WHERE model = ? AND hash IN ({','.join('?' * len(chunk))})",
                (model, *chunk),
            ):
                found[digest] = np.frombuffer(data, dtype=np.float16).astype(np.float32)
        return found

    def prune_vectors(self) -> int:
        """Drop vectors (and videos' moments) whose content no longer exists in any library image."""
        with self.transaction() as db:
            pruned = db.execute(
                "DELETE FROM vectors WHERE hash NOT IN (SELECT hash FROM images WHERE hash IS NOT NULL)"
            ).rowcount
        self.prune_moments()
        return pruned

    def vector_for_hash(self, content_hash: str, model: str) -> Optional[np.ndarray]:
        row = self.connection().execute(
            "SELECT data FROM vectors WHERE hash = ? AND model = ?", (content_hash, model)
        ).fetchone()
        return np.frombuffer(row[0], dtype=np.float16).astype(np.float32) if row else None

    # -- CLIP scores of generated images ----------------------------------------------------

    def record_clip_score(self, db: sqlite3.Connection, content_hash: str, model: str, score: float) -> None:
        """Inside the caller's transaction (the image's own)."""
        db.execute("INSERT OR REPLACE INTO clip_scores(hash, model, score) VALUES(?, ?, ?)",
                   (content_hash, model, float(score)))

    def clip_scores(self, hashes: Iterable[str]) -> dict[str, tuple[float, str]]:
        """Content hash → (score, model) for those that have one (the latest model's when several)."""
        found: dict[str, tuple[float, str]] = {}
        hashes = list(hashes)
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for digest, model, score in self.connection().execute(
                f"SELECT hash, model, score FROM clip_scores WHERE hash IN ({marks})", chunk
            ):
                found[digest] = (float(score), str(model))
        return found

    def best_scored_prompts(self, model: str, limit: int = 5) -> list[tuple[str, float]]:
        """The user's prompts whose images scored best with `model`, best first, each prompt once."""
        rows = self.connection().execute(
            "SELECT i.prompt, MAX(s.score) FROM clip_scores s JOIN images i ON i.hash = s.hash "
            "WHERE s.model = ? AND i.prompt IS NOT NULL AND TRIM(i.prompt) != '' "
            "GROUP BY i.prompt ORDER BY 2 DESC LIMIT ?",
            (model, int(limit)),
        )
        return [(str(prompt), float(score)) for prompt, score in rows]

    def hashes_with_any_vector(self, hashes: Iterable[str]) -> set[str]:
        """Hashes that have a vector for some model (content the library has encoded before)."""
        hashes = list(hashes)
        found: set[str] = set()
        for start in range(0, len(hashes), ID_CHUNK):
            chunk = hashes[start : start + ID_CHUNK]
            found.update(r[0] for r in self.connection().execute(
                f"SELECT DISTINCT hash FROM vectors WHERE hash IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def hashes_with_vectors(self, model: str, hashes: Iterable[str]) -> set[str]:
        hashes = list(hashes)
        found: set[str] = set()
        for start in range(0, len(hashes), ID_CHUNK):
            chunk = hashes[start : start + ID_CHUNK]
            found.update(r[0] for r in self.connection().execute(
                f"SELECT hash FROM vectors WHERE model = ? AND hash IN ({','.join('?' * len(chunk))})", (model, *chunk)))
        return found

    def exported_vectors(self, model: str, chunk: int = 10_000) -> Iterator[list[tuple[str, str, bytes]]]:
        """(path, content hash, float16 vector bytes) of every indexed image, in chunks, by id."""
        with self.reader() as db:
            cursor = db.execute(
                "SELECT i.path, i.hash, v.data FROM images i JOIN vectors v ON v.hash = i.hash AND v.model = ? "
                "WHERE i.status = 'ok' ORDER BY i.id", (model,))
            while rows := cursor.fetchmany(chunk):
                yield rows



VECTOR_ROWS = (
    "SELECT i.id, i.folder_id, COALESCE(i.taken, i.mtime), i.size, MIN(i.width, i.height), "
    "i.format, v.data FROM images i JOIN vectors v ON v.hash = i.hash AND v.model = ? "
    "WHERE i.status = 'ok'"
)


def indexed_count(db: sqlite3.Connection) -> int:
    """Images decoded and encoded: an upper bound, from an index, on one model's vector rows."""
    return int(db.execute("SELECT COUNT(*) FROM images WHERE status = 'ok'").fetchone()[0])


def vector_rows(db: sqlite3.Connection, model: str, limit: Optional[int] = None,
                id_stride: Optional[int] = None) -> sqlite3.Cursor:
    """Every indexed image's row with its `model` vector; `id_stride` keeps ids divisible by it."""
    if id_stride is not None:
        return db.execute(VECTOR_ROWS + " AND i.id % ? = 0", (model, id_stride))
    if limit is not None:
        return db.execute(VECTOR_ROWS + " LIMIT ?", (model, limit))
    return db.execute(VECTOR_ROWS, (model,))


def vector_rows_for(db: sqlite3.Connection, model: str, image_ids: Sequence[int]) -> list[tuple]:
    rows: list[tuple] = []
    for start in range(0, len(image_ids), ID_CHUNK):
        chunk = [int(i) for i in image_ids[start:start + ID_CHUNK]]
        rows += db.execute(VECTOR_ROWS + f" AND i.id IN ({','.join('?' * len(chunk))})",
                           (model, *chunk)).fetchall()
    return rows


def vector_blobs(db: sqlite3.Connection, model: str, image_ids: Sequence[int]) -> dict[int, bytes]:
    """Stored float16 vectors of indexed images by id; ids no longer indexed are left out."""
    found: dict[int, bytes] = {}
    # `+i.status`: look the ids up by primary key, not through the status index.
    for start in range(0, len(image_ids), ID_CHUNK):
        chunk = [int(i) for i in image_ids[start:start + ID_CHUNK]]
        found.update(db.execute(
            "SELECT i.id, v.data FROM images i JOIN vectors v ON v.hash = i.hash AND v.model = ? "
            f"WHERE i.id IN ({','.join('?' * len(chunk))}) AND +i.status = 'ok'", (model, *chunk)
        ).fetchall())
    return found
