"""Videos' moments: a vector per sampled frame, keyed like vectors by (content hash, model) and
its time in the video (a mixin of LibraryStore). A video is searchable by its best moment; its
row in `vectors` (the moments' mean) is what the analyses and the example search see."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .rows import vector_blob


class MomentRows:
    def record_moments(self, model: str, content_hash: str, moments: Sequence[tuple[float, np.ndarray]]) -> None:
        """Commit one batch of a video's moments: a killed index run resumes after the last batch."""
        with self.transaction(bump=False) as db:
            db.executemany(
                "INSERT OR REPLACE INTO moments(hash, model, time, data) VALUES(?, ?, ?, ?)",
                ((content_hash, model, float(time), vector_blob(vector)) for time, vector in moments),
            )

    def moments_of(self, model: str, content_hash: str) -> dict[float, np.ndarray]:
        """A video's stored moments for `model`: time → vector."""
        rows = self.connection().execute(
            "SELECT time, data FROM moments WHERE hash = ? AND model = ? ORDER BY time", (content_hash, model))
        return {float(t): np.frombuffer(data, dtype=np.float16).astype(np.float32) for t, data in rows}

    def all_moments(self, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(image ids, times, unit vectors as rows) of every indexed video's moments for `model`;
        a video present twice (a copy) has its moments under each image id."""
        rows = self.connection().execute(
            "SELECT i.id, m.time, m.data FROM moments m CROSS JOIN images i ON i.hash = m.hash "
            "WHERE m.model = ? AND i.status = 'ok' ORDER BY i.id, m.time", (model,)).fetchall()
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.float32), np.empty((0, 0), np.float32)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        times = np.fromiter((r[1] for r in rows), dtype=np.float32, count=len(rows))
        matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float16).reshape(len(rows), -1)
        return ids, times, matrix.astype(np.float32)

    def moments_stamp(self, model: str) -> tuple:
        """Changes when the searchable videos or the model's moments do; costs in proportion to the
        moments, not to the library (a photo library without videos pays one empty look-up)."""
        # CROSS JOIN keeps the moments the outer loop (SQLite's hint): the planner would otherwise
        # walk every picture of the library.
        return tuple(self.connection().execute(
            "SELECT COUNT(*), TOTAL(i.id), TOTAL(i.mtime), (SELECT COUNT(*) FROM moments WHERE model = ?) "
            "FROM (SELECT DISTINCT hash FROM moments WHERE model = ?) AS v CROSS JOIN images i "
            "ON i.hash = v.hash WHERE i.status = 'ok'", (model, model)).fetchone())

    def prune_moments(self) -> int:
        """Drop the moments of videos no library file holds any more."""
        with self.transaction(bump=False) as db:
            return db.execute(
                "DELETE FROM moments WHERE hash NOT IN (SELECT hash FROM images WHERE hash IS NOT NULL)").rowcount
