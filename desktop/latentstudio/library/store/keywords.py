"""The keyword table (FTS5): each image's name words and embedded text, and the queries keyword
search runs on it (a mixin of LibraryStore)."""

from __future__ import annotations

import sqlite3
from typing import Optional, Sequence


class KeywordRows:
    # -- words ------------------------------------------------------------------------------

    def set_words(self, db: sqlite3.Connection, image_id: int, name: str, text: str,
                  rating: Optional[int] = None, label: Optional[str] = None,
                  sidecar_mtime: Optional[float] = None) -> None:
        """An image's keyword row (caller's transaction): its name words and embedded text, with
        the rating and label its file or sidecar gives (and the sidecar's time, to see it change)."""
        db.execute("DELETE FROM image_words WHERE rowid = ?", (image_id,))
        db.execute("INSERT INTO image_words(rowid, name, text) VALUES(?, ?, ?)", (image_id, name, text))
        db.execute("UPDATE images SET words_read = 1, rating = ?, label = ?, sidecar_mtime = ? WHERE id = ?",
                   (rating, label, sidecar_mtime, image_id))

    def rated_at_least(self, stars: int) -> set[int]:
        """Images rated `stars` or more (from XMP: their sidecar or the file itself)."""
        rows = self.connection().execute("SELECT id FROM images WHERE rating >= ?", (int(stars),))
        return {row[0] for row in rows}

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

    def keyword_count(self, match: str, cap: int) -> int:
        """How many images match an FTS5 expression, counting no further than `cap`."""
        return int(self.connection().execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM image_words WHERE image_words MATCH ? LIMIT ?)", (match, cap)
        ).fetchone()[0])

    def keyword_unranked(self, match: str, limit: int, excluded: Optional[str] = None,
                         within: Optional[str] = None) -> list[int]:
        """Image ids matching an FTS5 expression, in id order (no ranking); `within` must match
        too, `excluded` must not."""
        expression = match if within is None else f"({within}) AND ({match})"
        if excluded is not None:
            expression = f"({expression}) NOT ({excluded})"
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
