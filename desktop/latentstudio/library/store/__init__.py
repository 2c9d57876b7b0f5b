"""The library database: SQLite in WAL mode, one connection per thread, every write a transaction.

Vectors are keyed by (content hash, model id), not by path: a moved, renamed or duplicated
file finds its vector again without being re-encoded. A process killed at any moment loses
only the transaction in flight; the next run resumes from what was committed.

All of the library's SQL lives in this package, by what it stores: `migrations.py` (the schema
and its frozen migrations), `images.py` (folders and images), `keywords.py` (the FTS5 words),
`vector_table.py` (vectors, what waits for one, CLIP scores), `moments.py` (videos' frames),
`rows.py` (what rows read as).
`LibraryStore` here opens, upgrades and connects, and keeps the change log; the tag, duplicate
and theme tables are read and written by `analysis_tables.py`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from ..file_kinds import RAW_SUFFIXES, VIDEO_SUFFIXES
from . import migrations
from .images import FolderImageRows
from .keywords import KeywordRows
from .moments import MomentRows
from .rows import ID_CHUNK, IMAGE_COLUMNS, OK, PENDING, SKIPPED, DecodedInfo, Folder, ImageRow, image_row, vector_blob
from .vector_table import VectorRows, indexed_count, vector_blobs, vector_rows, vector_rows_for


class LibraryVersionError(RuntimeError):
    """The database is newer than this release understands, or could not be upgraded."""


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def backup_path(path: Path, version: int) -> Path:
    return path.with_name(f"{path.name}.format-{version}.bak")


class LibraryStore(FolderImageRows, KeywordRows, VectorRows, MomentRows):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[tuple[threading.Thread, sqlite3.Connection]] = []  # each thread's, with its thread
        self._closed = False
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
                db.executescript(migrations.SCHEMA)
                db.execute("BEGIN IMMEDIATE")
                for migrate in migrations.MIGRATIONS:
                    migrate(db)
                db.execute(f"PRAGMA user_version = {len(migrations.MIGRATIONS)}")
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
        if found > len(migrations.MIGRATIONS):
            raise LibraryVersionError(
                f"{self.path} was written by a newer Latent Studio (library format {found}; this one "
                f"reads up to {len(migrations.MIGRATIONS)}). Update the app; the file was not changed."
            )
        if found == len(migrations.MIGRATIONS):
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
            for migrate in migrations.MIGRATIONS[current:]:
                migrate(db)
            db.execute(f"PRAGMA user_version = {len(migrations.MIGRATIONS)}")
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
        """This thread's connection (opened on first use). ProgrammingError once the store is closed."""
        db = getattr(self._local, "db", None)
        if db is None:
            if self._closed:
                raise sqlite3.ProgrammingError(f"{self.path.name} is closed: the application is closing")
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: durable across process crashes
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
            with self._lock:
                self._all.append((threading.current_thread(), db))
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
        """Close the connections of this thread and of threads that have ended. A connection of a
        thread still running may be inside a statement right now, and closing it under that thread
        crashes the process: its statement is interrupted instead (that thread sees an
        OperationalError, its transaction rolls back) and the connection closes with its thread."""
        with self._lock:
            self._closed = True
            connections, self._all = self._all, []
        me = threading.current_thread()
        for owner, db in connections:
            if owner is me or not owner.is_alive():
                with contextlib.suppress(sqlite3.Error):
                    db.close()
            else:
                with contextlib.suppress(sqlite3.Error):
                    db.interrupt()
        self._local = threading.local()

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
        # RAW files and videos by name: those still waiting have no decoded format yet.
        raw = " OR ".join(f"lower(path) LIKE '%{suffix}'" for suffix in RAW_SUFFIXES)
        video = " OR ".join(f"lower(path) LIKE '%{suffix}'" for suffix in VIDEO_SUFFIXES)
        row = db.execute(f"SELECT SUM({raw}), SUM({video}), SUM(companion IS NOT NULL), SUM(rating > 0) "
                         "FROM images").fetchone()
        moments = db.execute("SELECT COUNT(*) FROM moments").fetchone()[0]
        kinds = {"raw": row[0] or 0, "video": row[1] or 0, "moments": moments, "paired": row[2] or 0,
                 "rated": row[3] or 0}
        return {
            "database": str(self.path),
            "images": sum(counts.values()),
            "kinds": kinds,
            "indexed": counts.get(OK, 0),
            "pending": counts.get(PENDING, 0),
            "skipped": counts.get(SKIPPED, 0),
            "skip_reasons": {reason or "unknown": n for reason, n in reasons},
            "vectors": per_model,
            "folders": folders,
        }


# -- reads for the in-memory vector index (library/vectors.py) ---------------------------------
# Each row: image id, folder id, date (EXIF, else mtime), file size, shorter side, format, vector.
def meta_value(db: sqlite3.Connection, key: str) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


def change_seq(db: sqlite3.Connection) -> int:
    """The change log's last position (sqlite_sequence keeps it when pruning emptied the log)."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    return int(row[0]) if row else 0


def changed_since(db: sqlite3.Connection, seq: int) -> set[int]:
    """Image ids the change log names after position `seq`."""
    return {r[0] for r in db.execute("SELECT image_id FROM changes WHERE seq > ?", (seq,))}




__all__ = [
    "ID_CHUNK", "IMAGE_COLUMNS", "OK", "PENDING", "SKIPPED", "DecodedInfo", "Folder", "ImageRow", "LibraryStore",
    "LibraryVersionError", "backup_path", "change_seq", "changed_since", "image_row", "indexed_count", "meta_value",
    "schema_version", "vector_blob", "vector_blobs", "vector_rows", "vector_rows_for",
]
