"""A project's index in SQLite (WAL): its files (size, mtime, content hash, skip reason), their
chunks, the chunks' vectors by content hash and model (so nothing is embedded twice, and a change
of model keeps the other model's vectors) and an FTS5 index of the chunks' words.

Every write is a transaction: a killed indexing keeps what it committed and the next run goes on
from there. Migrations run at open after a backup copy; a newer file is refused, never rewritten.
One connection per store, used by one thread at a time (the caller's lock or job).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from .chunking import Chunk


def _first_schema(conn: sqlite3.Connection) -> None:
    conn.executescript("""
        CREATE TABLE files (
            id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, mtime REAL NOT NULL,
            hash TEXT, status TEXT NOT NULL, reason TEXT
        );
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
            start_line INTEGER NOT NULL, end_line INTEGER NOT NULL, symbol TEXT NOT NULL,
            hash TEXT NOT NULL, text TEXT NOT NULL
        );
        CREATE INDEX chunks_file ON chunks(file_id);
        CREATE INDEX chunks_hash ON chunks(hash);
        CREATE TABLE vectors (
            hash TEXT NOT NULL, model TEXT NOT NULL, dim INTEGER NOT NULL, data BLOB NOT NULL,
            PRIMARY KEY (hash, model)
        );
        CREATE VIRTUAL TABLE chunks_fts USING fts5(path, symbol, words);
    """)


# MIGRATIONS[i] upgrades an index from user_version i to i + 1. Append only.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_first_schema]
SCHEMA_VERSION = len(MIGRATIONS)


def identifier_words(text: str) -> str:
    """The text with its identifiers also split into words (parse_config → parse config,
    HistoryStore → History Store), so a query's words find code that writes them joined."""
    identifiers = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", text))
    split = []
    for name in identifiers:
        parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", name)
        if len(parts) > 1:
            split.append(" ".join(parts))
    return text + "\n" + "\n".join(sorted(split))


class ProjectStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._migrate()

    def _migrate(self) -> None:
        conn = self._conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise RuntimeError(f"{self.path} was written by a newer Latent Studio (schema {version}); "
                               "update the app to use this project's index")
        if version == SCHEMA_VERSION:
            return
        if version > 0:
            backup = self.path.with_name(f"{self.path.name}.schema-{version}.bak")
            if not backup.exists():
                with contextlib.closing(sqlite3.connect(backup)) as copy:
                    conn.backup(copy)
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            for migrate in MIGRATIONS[version:]:
                migrate(conn)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    def query(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- files and chunks ------------------------------------------------------------------

    def files(self) -> dict[str, tuple[int, int, float, Optional[str], str, Optional[str]]]:
        """path -> (id, size, mtime, hash, status, reason)."""
        return {row[1]: row[:1] + row[2:]
                for row in self.query("SELECT id, path, size, mtime, hash, status, reason FROM files")}

    def put_file(self, db: sqlite3.Connection, path: str, size: int, mtime: float, digest: Optional[str],
                 status: str, reason: Optional[str], chunks: Optional[list[Chunk]]) -> None:
        """Record a file; `chunks` (when given) replace its chunks."""
        db.execute(
            "INSERT INTO files (path, size, mtime, hash, status, reason) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime=excluded.mtime, hash=excluded.hash, "
            "status=excluded.status, reason=excluded.reason",
            (path, size, mtime, digest, status, reason),
        )
        if chunks is None:
            return
        file_id = db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()[0]
        self._drop_chunks(db, file_id)
        for chunk in chunks:
            cursor = db.execute(
                "INSERT INTO chunks (file_id, start_line, end_line, symbol, hash, text) VALUES (?, ?, ?, ?, ?, ?)",
                (file_id, chunk.start_line, chunk.end_line, chunk.symbol, chunk_hash(path, chunk), chunk.text),
            )
            db.execute("INSERT INTO chunks_fts (rowid, path, symbol, words) VALUES (?, ?, ?, ?)",
                       (cursor.lastrowid, path, identifier_words(chunk.symbol), identifier_words(chunk.text)))

    def remove_file(self, db: sqlite3.Connection, path: str) -> None:
        row = db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        if row is not None:
            self._drop_chunks(db, row[0])
            db.execute("DELETE FROM files WHERE id = ?", (row[0],))

    @staticmethod
    def _drop_chunks(db: sqlite3.Connection, file_id: int) -> None:
        db.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE file_id = ?)", (file_id,))
        db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))

    def counts(self) -> dict[str, int]:
        files = self.query("SELECT status, COUNT(*) FROM files GROUP BY status")
        return {**{f"files {status}": n for status, n in files},
                "chunks": self.query("SELECT COUNT(*) FROM chunks")[0][0]}

    # -- vectors ---------------------------------------------------------------------------

    def pending(self, model: str, limit: int, after: int = 0) -> list[tuple[int, str, str]]:
        """(chunk id, hash, text to embed) of up to `limit` chunks after chunk id `after` without a
        vector of `model`, in id order: a caller walks them by id, so each call reads only rows it has
        not seen (asking from the start each time re-read every embedded chunk: quadratic)."""
        return self.query(
            "SELECT c.id, c.hash, f.path || ' :: ' || c.symbol || char(10) || c.text FROM chunks c "
            "JOIN files f ON f.id = c.file_id WHERE c.id > ? AND NOT EXISTS "
            "(SELECT 1 FROM vectors v WHERE v.hash = c.hash AND v.model = ?) ORDER BY c.id LIMIT ?",
            (after, model, limit),
        )

    def pending_count(self, model: str) -> int:
        return self.query(
            "SELECT COUNT(DISTINCT c.hash) FROM chunks c LEFT JOIN vectors v ON v.hash = c.hash AND v.model = ? "
            "WHERE v.hash IS NULL", (model,))[0][0]

    def put_vectors(self, model: str, hashes: list[str], vectors: np.ndarray) -> None:
        rows = [(h, model, int(vectors.shape[1]), v.astype(np.float16).tobytes()) for h, v in zip(hashes, vectors)]
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO vectors (hash, model, dim, data) VALUES (?, ?, ?, ?)", rows)

    def stored_dimensions(self) -> dict[str, int]:
        """model -> dimension of the vectors stored for it."""
        return dict(self.query("SELECT model, MAX(dim) FROM vectors GROUP BY model"))

    def drop_vectors(self, model: str) -> int:
        with self.transaction() as db:
            return db.execute("DELETE FROM vectors WHERE model = ?", (model,)).rowcount

    def chunk_vectors(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, float32 matrix) of every chunk with a vector of `model`."""
        rows = self.query("SELECT c.id, v.data FROM chunks c JOIN vectors v ON v.hash = c.hash AND v.model = ?",
                          (model,))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16).reshape(len(rows), -1)
        return ids, matrix.astype(np.float32)


def chunk_hash(path: str, chunk: Chunk) -> str:
    import hashlib

    return hashlib.sha256(f"{path} :: {chunk.symbol}\n{chunk.text}".encode("utf-8")).hexdigest()[:32]
