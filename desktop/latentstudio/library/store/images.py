"""Folders and images: the rows a scan keeps in line with the files on disk (a mixin of
LibraryStore: every method runs on its connections and transactions)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Optional

from .rows import ID_CHUNK, IMAGE_COLUMNS, Folder, ImageRow, image_row


class FolderImageRows:
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
        return {row[2]: image_row(row) for row in rows}

    def image(self, image_id: int) -> Optional[ImageRow]:
        row = self.connection().execute(
            f"SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?", (image_id,)
        ).fetchone()
        return image_row(row) if row else None

    def image_by_path(self, path: str) -> Optional[ImageRow]:
        row = self.connection().execute(
            f"SELECT {IMAGE_COLUMNS} FROM images WHERE path = ?", (path,)
        ).fetchone()
        return image_row(row) if row else None

    def images_by_ids(self, ids: Iterable[int]) -> dict[int, ImageRow]:
        ids = list(ids)
        found: dict[int, ImageRow] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.connection().execute(
                f"SELECT {IMAGE_COLUMNS} FROM images WHERE id IN ({marks})", chunk
            ):
                found[row[0]] = image_row(row)
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
                found.setdefault(row[5], image_row(row))
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

        `like` copies decoded metadata (dimensions, date, format, a video's length and codec) from a row
        with the same content.
        """
        meta = ((like.width, like.height, like.taken, like.format, like.duration, like.codec) if like
                else (None,) * 6)
        db.execute(
            "INSERT INTO images(folder_id, path, size, mtime, hash, width, height, taken, format, duration, codec, "
            "status, reason, generated, prompt, added) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(path) DO UPDATE SET folder_id=excluded.folder_id, size=excluded.size, "
            "mtime=excluded.mtime, hash=excluded.hash, width=excluded.width, height=excluded.height, "
            "taken=excluded.taken, format=excluded.format, duration=excluded.duration, codec=excluded.codec, "
            "status=excluded.status, reason=excluded.reason, generated=MAX(images.generated, excluded.generated), "
            "prompt=COALESCE(excluded.prompt, images.prompt)",
            (folder_id, path, size, mtime, content_hash, *meta, status, reason, int(generated), prompt, time.time()),
        )
        return int(db.execute("SELECT id FROM images WHERE path = ?", (path,)).fetchone()[0])

    def skipped_files(self, limit: int) -> tuple[int, list[tuple[str, str]]]:
        """(how many, the first `limit` (path, reason) by path) of the files that cannot be searched."""
        db = self.connection()
        total = int(db.execute("SELECT COUNT(*) FROM images WHERE status = 'skipped'").fetchone()[0])
        rows = db.execute("SELECT path, COALESCE(reason, 'unknown') FROM images WHERE status = 'skipped' "
                          "ORDER BY path LIMIT ?", (limit,))
        return total, [(r[0], r[1]) for r in rows]

    def set_companion(self, db: sqlite3.Connection, image_id: int, companion: Optional[str]) -> None:
        """The file paired with an image (a RAW beside its JPEG, a Live Photo's video), or none."""
        db.execute("UPDATE images SET companion = ? WHERE id = ?", (companion, image_id))

    def touch_image(self, db: sqlite3.Connection, image_id: int, size: int, mtime: float) -> None:
        """A file rewritten with the same content: new size and time, same vector (caller's transaction)."""
        db.execute("UPDATE images SET mtime = ?, size = ? WHERE id = ?", (mtime, size, image_id))

    def forget_images(self, db: sqlite3.Connection, paths: Iterable[str]) -> None:
        """Drop the rows of files that are gone (caller's transaction); vectors stay for moved copies."""
        db.executemany("DELETE FROM images WHERE path = ?", ((path,) for path in paths))

    def _images_where(self, column: str, values: Iterable[str]) -> list[ImageRow]:
        values = list(values)
        found: list[ImageRow] = []
        for start in range(0, len(values), ID_CHUNK):
            chunk = values[start : start + ID_CHUNK]
            found += [image_row(r) for r in self.connection().execute(
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
