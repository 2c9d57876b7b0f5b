"""The library database: SQLite in WAL mode, one connection per thread, every write a transaction.

Vectors are keyed by (content hash, model id), not by path: a moved, renamed or duplicated
file finds its vector again without being re-encoded. A process killed at any moment loses
only the transaction in flight; the next run resumes from what was committed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

from .migrations import MIGRATIONS, SCHEMA

PENDING, OK, SKIPPED = "pending", "ok", "skipped"
IMAGE_COLUMNS = (
    "id, folder_id, path, size, mtime, hash, width, height, taken, format, status, reason, "
    "generated, prompt"
)


@dataclass(frozen=True)
class Folder:
    id: int
    path: Path
    role: str
    scanned: Optional[float]


@dataclass(frozen=True)
class ImageRow:
    id: int
    folder_id: int
    path: str
    size: int
    mtime: float
    hash: Optional[str]
    width: Optional[int]
    height: Optional[int]
    taken: Optional[float]
    format: Optional[str]
    status: str
    reason: Optional[str]
    generated: bool
    prompt: Optional[str]


@dataclass(frozen=True)
class DecodedInfo:
    """What a successful decode learned about an image, stored with its vector."""

    width: int
    height: int
    taken: Optional[float]
    format: str


def _image(row: Sequence) -> ImageRow:
    return ImageRow(*row[:12], bool(row[12]), row[13])  # type: ignore[arg-type]


def vector_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


class LibraryVersionError(RuntimeError):
    """The database is newer than this release understands, or could not be upgraded."""


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def backup_path(path: Path, version: int) -> Path:
    return path.with_name(f"{path.name}.format-{version}.bak")


class LibraryStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if not self.path.exists():
            self._create()
        try:
            self._upgrade()
        except BaseException:
            self.close()
            raise

    def _create(self) -> None:
        """Build a new database beside its place and link it in: another process that finds the
        file (a GUI polling while the CLI indexes) never sees it without its tables."""
        fd, staging = tempfile.mkstemp(prefix=f".{self.path.name}-", dir=self.path.parent)
        os.close(fd)
        try:
            db = sqlite3.connect(staging, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
                db.execute("BEGIN IMMEDIATE")
                for migrate in MIGRATIONS:
                    migrate(db)
                db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
                db.execute("COMMIT")
            finally:
                db.close()
            with contextlib.suppress(FileExistsError):
                os.link(staging, self.path)
        finally:
            os.unlink(staging)

    def _upgrade(self) -> None:
        """Bring an older database up to this release: a backup copy first, then every missing
        migration in one transaction, so a failure leaves the file as it was."""
        db = self.connection()
        found = schema_version(db)
        if found > len(MIGRATIONS):
            raise LibraryVersionError(
                f"{self.path} was written by a newer Latent Studio (library format {found}; this one "
                f"reads up to {len(MIGRATIONS)}). Update the app; the file was not changed."
            )
        if found == len(MIGRATIONS):
            return
        backup = backup_path(self.path, found)
        if not backup.exists():
            copy = sqlite3.connect(backup)
            try:
                db.backup(copy)
            finally:
                copy.close()
        db.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(db)  # another process may have migrated meanwhile
            for migrate in MIGRATIONS[current:]:
                migrate(db)
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        except BaseException as exc:
            db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise LibraryVersionError(
                    f"could not upgrade {self.path} (format {current}): {exc}. The file was not changed; "
                    f"a copy is in {backup.name}."
                ) from exc
            raise
        db.execute("COMMIT")

    # -- connections ------------------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: durable across process crashes
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    @contextlib.contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A private read connection, closed afterwards: for one-off reads on helper threads."""
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def transaction(self, bump: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction; one that changed rows raises the version (unless `bump` is False,
        for bookkeeping that search results do not depend on)."""
        db = self.connection()
        db.execute("BEGIN IMMEDIATE")
        before = db.total_changes
        try:
            yield db
            if bump and db.total_changes != before:
                db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def version(self) -> int:
        """A counter every write transaction raises, in any process: cached data compares it."""
        row = self.connection().execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return int(row[0]) if row else 0

    def changes_floor(self) -> int:
        row = self.connection().execute("SELECT value FROM meta WHERE key = 'changes_floor'").fetchone()
        return int(row[0]) if row else 0

    def prune_changes(self, upto: int) -> None:
        """Forget the change log up to `upto` (a saved index covers it); an index older than that
        reloads in full."""
        with self.transaction(bump=False) as db:
            db.execute("DELETE FROM changes WHERE seq <= ?", (upto,))
            db.execute("UPDATE meta SET value = ? WHERE key = 'changes_floor' AND CAST(value AS INTEGER) < ?",
                       (str(upto), upto))

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for db in connections:
            with contextlib.suppress(sqlite3.Error):
                db.close()
        self._local = threading.local()

    # -- folders ----------------------------------------------------------------------------

    def folders(self) -> list[Folder]:
        rows = self.connection().execute("SELECT id, path, role, scanned FROM folders ORDER BY path")
        return [Folder(r[0], Path(r[1]), r[2], r[3]) for r in rows]

    def folder_by_path(self, path: Path) -> Optional[Folder]:
        row = self.connection().execute(
            "SELECT id, path, role, scanned FROM folders WHERE path = ?", (str(path),)
        ).fetchone()
        return Folder(row[0], Path(row[1]), row[2], row[3]) if row else None

    def add_folder(self, path: Path, role: str = "user") -> Folder:
        """Add a folder; a parent of existing folders absorbs them (their images are kept)."""
        path = Path(os.path.abspath(path))
        existing = self.folder_by_path(path)
        if existing:
            return existing
        for folder in self.folders():
            if path.is_relative_to(folder.path):
                raise ValueError(f"{path} is already in the library, inside {folder.path}")
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO folders(path, role, added) VALUES(?, ?, ?)", (str(path), role, time.time())
            )
            folder_id = int(cursor.lastrowid)
            for child in self.folders():
                if child.id != folder_id and child.path.is_relative_to(path):
                    db.execute("UPDATE images SET folder_id = ? WHERE folder_id = ?", (folder_id, child.id))
                    db.execute("DELETE FROM folders WHERE id = ?", (child.id,))
        return Folder(folder_id, path, role, None)

    def remove_folder(self, path: Path) -> int:
        """Forget a folder and its images (files on disk are untouched); returns images removed."""
        folder = self.folder_by_path(Path(os.path.abspath(path)))
        if folder is None:
            raise ValueError(f"{path} is not a library folder")
        with self.transaction() as db:
            removed = db.execute("DELETE FROM images WHERE folder_id = ?", (folder.id,)).rowcount
            db.execute("DELETE FROM folders WHERE id = ?", (folder.id,))
        return removed

    def mark_scanned(self, folder_id: int) -> None:
        with self.transaction(bump=False) as db:
            db.execute("UPDATE folders SET scanned = ? WHERE id = ?", (time.time(), folder_id))

    # -- images -----------------------------------------------------------------------------

    def images_in(self, folder_id: int) -> dict[str, ImageRow]:
        rows = self.connection().execute(
            f"SELECT {IMAGE_COLUMNS} FROM images WHERE folder_id = ?", (folder_id,)
        )
        return {row[2]: _image(row) for row in rows}

    def image(self, image_id: int) -> Optional[ImageRow]:
        row = self.connection().execute(
            f"SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?", (image_id,)
        ).fetchone()
        return _image(row) if row else None

    def image_by_path(self, path: str) -> Optional[ImageRow]:
        row = self.connection().execute(
            f"SELECT {IMAGE_COLUMNS} FROM images WHERE path = ?", (path,)
        ).fetchone()
        return _image(row) if row else None

    def images_by_ids(self, ids: Iterable[int]) -> dict[int, ImageRow]:
        ids = list(ids)
        found: dict[int, ImageRow] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.connection().execute(
                f"SELECT {IMAGE_COLUMNS} FROM images WHERE id IN ({marks})", chunk
            ):
                found[row[0]] = _image(row)
        return found

    def known_hashes(self, hashes: Iterable[str]) -> dict[str, ImageRow]:
        """For each hash, one decoded image row carrying it (to copy metadata to a duplicate)."""
        found: dict[str, ImageRow] = {}
        hashes = list(hashes)
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.connection().execute(
                f"SELECT {IMAGE_COLUMNS} FROM images WHERE hash IN ({marks}) AND status = 'ok'", chunk
            ):
                found.setdefault(row[5], _image(row))
        return found

    def upsert_image(
        self,
        db: sqlite3.Connection,
        folder_id: int,
        path: str,
        size: int,
        mtime: float,
        content_hash: Optional[str],
        status: str,
        reason: Optional[str] = None,
        like: Optional[ImageRow] = None,
        generated: bool = False,
        prompt: Optional[str] = None,
    ) -> int:
        """Insert or replace the row for `path` inside the caller's transaction.

        `like` copies decoded metadata (dimensions, date, format) from a row with the same content.
        """
        meta = (like.width, like.height, like.taken, like.format) if like else (None, None, None, None)
        db.execute(
            "INSERT INTO images(folder_id, path, size, mtime, hash, width, height, taken, format, "
            "status, reason, generated, prompt, added) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(path) DO UPDATE SET folder_id=excluded.folder_id, size=excluded.size, "
            "mtime=excluded.mtime, hash=excluded.hash, width=excluded.width, height=excluded.height, "
            "taken=excluded.taken, format=excluded.format, status=excluded.status, "
            "reason=excluded.reason, generated=MAX(images.generated, excluded.generated), "
            "prompt=COALESCE(excluded.prompt, images.prompt)",
            (folder_id, path, size, mtime, content_hash, *meta, status, reason, int(generated), prompt, time.time()),
        )
        return int(db.execute("SELECT id FROM images WHERE path = ?", (path,)).fetchone()[0])

    def touch_image(self, db: sqlite3.Connection, image_id: int, size: int, mtime: float) -> None:
        """A file rewritten with the same content: new size and time, same vector (caller's transaction)."""
        db.execute("UPDATE images SET mtime = ?, size = ? WHERE id = ?", (mtime, size, image_id))

    def forget_images(self, db: sqlite3.Connection, paths: Iterable[str]) -> None:
        """Drop the rows of files that are gone (caller's transaction); vectors stay for moved copies."""
        db.executemany("DELETE FROM images WHERE path = ?", ((path,) for path in paths))

    # -- words ------------------------------------------------------------------------------

    def set_words(self, db: sqlite3.Connection, image_id: int, name: str, text: str) -> None:
        """An image's keyword row (caller's transaction): its name words and embedded text."""
        db.execute("DELETE FROM image_words WHERE rowid = ?", (image_id,))
        db.execute("INSERT INTO image_words(rowid, name, text) VALUES(?, ?, ?)", (image_id, name, text))
        db.execute("UPDATE images SET words_read = 1 WHERE id = ?", (image_id,))

    def ids_without_words(self, folder_id: int) -> set[int]:
        """Images of a folder whose embedded text was never read (rows from before keyword search)."""
        rows = self.connection().execute(
            "SELECT id FROM images WHERE folder_id = ? AND words_read = 0 AND status != 'skipped'", (folder_id,)
        )
        return {row[0] for row in rows}

    def words_of(self, image_id: int) -> Optional[tuple[str, str]]:
        row = self.connection().execute(
            "SELECT name, text FROM image_words WHERE rowid = ?", (image_id,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def keyword_ranked(
        self, match: str, limit: int, within: Optional[str] = None, excluded: Optional[str] = None
    ) -> list[tuple[int, float]]:
        """(image id, keyword score) matching an FTS5 expression, best first: the score is bm25,
        negated so higher is better, names weighing twice the text; `within` must match too,
        `excluded` must not."""
        expression = match if within is None else f"({within}) AND ({match})"
        if excluded is not None:
            expression = f"({expression}) NOT ({excluded})"
        rows = self.connection().execute(
            "SELECT rowid, -bm25(image_words, 2.0, 1.0) AS score FROM image_words WHERE image_words MATCH ? "
            "ORDER BY score DESC LIMIT ?",
            (expression, limit),
        )
        return [(row[0], row[1]) for row in rows]

    def keyword_count(self, match: str, cap: int) -> int:
        """How many images match an FTS5 expression, counting no further than `cap`."""
        return int(self.connection().execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM image_words WHERE image_words MATCH ? LIMIT ?)", (match, cap)
        ).fetchone()[0])

    def keyword_unranked(self, match: str, limit: int, excluded: Optional[str] = None) -> list[int]:
        """Image ids matching an FTS5 expression, in id order (no ranking: for very common words)."""
        expression = match if excluded is None else f"({match}) NOT ({excluded})"
        rows = self.connection().execute(
            "SELECT rowid FROM image_words WHERE image_words MATCH ? LIMIT ?", (expression, limit)
        )
        return [row[0] for row in rows]

    def keyword_subset(self, match: str, image_ids: Sequence[int]) -> set[int]:
        """Those of `image_ids` whose words match an FTS5 expression."""
        found: set[int] = set()
        ids = list(image_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in self.connection().execute(
                f"SELECT rowid FROM image_words WHERE image_words MATCH ? AND rowid IN ({marks})", (match, *chunk)
            ))
        return found

    def has_vectors(self, model: str) -> bool:
        """Whether any image has a `model` vector: stops at the first one found."""
        return self.connection().execute(
            "SELECT EXISTS(SELECT 1 FROM vectors WHERE model = ?)", (model,)).fetchone()[0] == 1

    def has_pending(self, model: str) -> bool:
        """Whether any image still waits for a `model` vector: stops at the first one found."""
        return self.connection().execute(
            "SELECT EXISTS(SELECT 1 FROM images WHERE status != 'skipped' AND hash IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.hash = images.hash AND v.model = ?))",
            (model,),
        ).fetchone()[0] == 1

    def pending(self, model: str, image_ids: Optional[Sequence[int]] = None) -> list[ImageRow]:
        """Images still to encode for `model`: readable so far and without a vector."""
        sql = (
            f"SELECT {IMAGE_COLUMNS} FROM images WHERE status != 'skipped' AND hash IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.hash = images.hash AND v.model = ?)"
        )
        db = self.connection()
        if image_ids is None:
            rows = [_image(r) for r in db.execute(sql + " ORDER BY id", (model,))]
        else:
            ids = list(image_ids)
            rows = []
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += [_image(r) for r in db.execute(sql + f" AND id IN ({marks})", (model, *chunk))]
            rows.sort(key=lambda r: r.id)
        # One encode per distinct content: duplicates get the vector through their hash.
        seen: set[str] = set()
        unique = []
        for row in rows:
            if row.hash not in seen:
                seen.add(row.hash)  # type: ignore[arg-type]
                unique.append(row)
        return unique

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
                    "UPDATE images SET status='ok', reason=NULL, width=?, height=?, taken=?, format=? "
                    "WHERE hash = ? AND status != 'skipped'",
                    (info.width, info.height, info.taken, info.format, row.hash),
                )
            for row, reason in skipped:
                db.execute("UPDATE images SET status='skipped', reason=? WHERE hash = ?", (reason, row.hash))

    def prune_vectors(self) -> int:
        """Drop vectors whose content no longer exists in any library image."""
        with self.transaction() as db:
            return db.execute(
                "DELETE FROM vectors WHERE hash NOT IN (SELECT hash FROM images WHERE hash IS NOT NULL)"
            ).rowcount

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

    def _images_where(self, column: str, values: Iterable[str]) -> list[ImageRow]:
        values = list(values)
        found: list[ImageRow] = []
        for start in range(0, len(values), ID_CHUNK):
            chunk = values[start : start + ID_CHUNK]
            found += [_image(r) for r in self.connection().execute(
                f"SELECT {IMAGE_COLUMNS} FROM images WHERE {column} IN ({','.join('?' * len(chunk))}) ORDER BY id",
                chunk)]
        return found

    def images_by_paths(self, paths: Iterable[str]) -> dict[str, ImageRow]:
        return {row.path: row for row in self._images_where("path", paths)}

    def images_by_hashes(self, hashes: Iterable[str]) -> dict[str, ImageRow]:
        """For each content hash, the first library image carrying it (any status)."""
        found: dict[str, ImageRow] = {}
        for row in self._images_where("hash", hashes):
            found.setdefault(row.hash, row)  # type: ignore[arg-type]
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

    # -- reports ----------------------------------------------------------------------------

    def status(self) -> dict:
        db = self.connection()
        counts = dict(db.execute("SELECT status, COUNT(*) FROM images GROUP BY status").fetchall())
        per_model = dict(db.execute("SELECT model, COUNT(*) FROM vectors GROUP BY model").fetchall())
        reasons = db.execute(
            "SELECT reason, COUNT(*) FROM images WHERE status = 'skipped' GROUP BY reason ORDER BY 2 DESC"
        ).fetchall()
        folders = []
        for folder in self.folders():
            row = db.execute(
                "SELECT COUNT(*), SUM(status='ok'), SUM(status='pending'), SUM(status='skipped') "
                "FROM images WHERE folder_id = ?",
                (folder.id,),
            ).fetchone()
            folders.append(
                {
                    "path": str(folder.path),
                    "role": folder.role,
                    "scanned": folder.scanned,
                    "images": row[0] or 0,
                    "indexed": row[1] or 0,
                    "pending": row[2] or 0,
                    "skipped": row[3] or 0,
                }
            )
        return {
            "database": str(self.path),
            "images": sum(counts.values()),
            "indexed": counts.get(OK, 0),
            "pending": counts.get(PENDING, 0),
            "skipped": counts.get(SKIPPED, 0),
            "skip_reasons": {reason or "unknown": n for reason, n in reasons},
            "vectors": per_model,
            "folders": folders,
        }


# -- reads for the in-memory vector index (library/vectors.py) ---------------------------------
# Each row: image id, folder id, date (EXIF, else mtime), file size, shorter side, format, vector.
VECTOR_ROWS = (
    "SELECT i.id, i.folder_id, COALESCE(i.taken, i.mtime), i.size, MIN(i.width, i.height), "
    "i.format, v.data FROM images i JOIN vectors v ON v.hash = i.hash AND v.model = ? "
    "WHERE i.status = 'ok'"
)
ID_CHUNK = 500  # ids per IN (…) list


def meta_value(db: sqlite3.Connection, key: str) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


def change_seq(db: sqlite3.Connection) -> int:
    """The change log's last position (sqlite_sequence keeps it when pruning emptied the log)."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    return int(row[0]) if row else 0


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


def changed_since(db: sqlite3.Connection, seq: int) -> set[int]:
    """Image ids the change log names after position `seq`."""
    return {r[0] for r in db.execute("SELECT image_id FROM changes WHERE seq > ?", (seq,))}


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
