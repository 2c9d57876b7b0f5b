"""Reads and writes of the analysis tables (created by migrations.py's `_analysis_tables`).

Tags, their example vectors and the user's marks, tag assignments, close pairs for duplicates,
and each analysis's position in the change log. Every write is one transaction of the store.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import numpy as np

from . import LibraryStore
from .rows import ID_CHUNK, vector_blob

CONFIRMED, REJECTED = 1, 0


@dataclass(frozen=True)
class Tag:
    id: int
    label: str
    group: Optional[str]
    adjust: float  # the user's shift of the calibrated threshold, in standard deviations
    calibration: Optional[dict]  # None: to be calibrated on the library (new or changed tag)


def _tag(row: Sequence) -> Tag:
    return Tag(row[0], row[1], row[2], float(row[3]), json.loads(row[4]) if row[4] else None)


def tags(store: LibraryStore) -> list[Tag]:
    rows = store.connection().execute("SELECT id, label, grp, adjust, calibration FROM tags ORDER BY grp, label")
    return [_tag(r) for r in rows]


def tag_by_label(store: LibraryStore, label: str) -> Tag:
    row = store.connection().execute(
        "SELECT id, label, grp, adjust, calibration FROM tags WHERE label = ? COLLATE NOCASE", (label,)
    ).fetchone()
    if row is None:
        raise ValueError(f"no tag {label!r} (see `latent-studio tag list`)")
    return _tag(row)


def add_tag(store: LibraryStore, label: str, group: Optional[str]) -> Tag:
    label = " ".join(label.split())
    if not label:
        raise ValueError("a tag needs a word or phrase")
    if store.connection().execute("SELECT 1 FROM tags WHERE label = ? COLLATE NOCASE", (label,)).fetchone():
        raise ValueError(f"there is already a tag {label!r}")
    with store.transaction(bump=False) as db:
        db.execute("INSERT INTO tags(label, grp, added) VALUES(?, ?, ?)", (label, group or None, time.time()))
        _uncalibrate_group(db, group)
    return tag_by_label(store, label)


def remove_tag(store: LibraryStore, label: str) -> None:
    tag = tag_by_label(store, label)
    with store.transaction(bump=False) as db:
        db.execute("DELETE FROM tags WHERE id = ?", (tag.id,))  # examples, marks, assignments cascade
        _uncalibrate_group(db, tag.group)


def set_adjust(store: LibraryStore, label: str, adjust: float) -> None:
    tag = tag_by_label(store, label)
    with store.transaction(bump=False) as db:
        db.execute("UPDATE tags SET adjust = ? WHERE id = ?", (float(adjust), tag.id))
        _uncalibrate(db, tag)


def save_calibration(store: LibraryStore, tag_id: int, calibration: dict) -> None:
    with store.transaction(bump=False) as db:
        db.execute("UPDATE tags SET calibration = ? WHERE id = ?", (json.dumps(calibration), tag_id))


def _uncalibrate(db: sqlite3.Connection, tag: Tag) -> None:
    """A tag's scores change: it (and its whole group, which assigns one member) is rescored."""
    db.execute("UPDATE tags SET calibration = NULL WHERE id = ?", (tag.id,))
    _uncalibrate_group(db, tag.group)


def _uncalibrate_group(db: sqlite3.Connection, group: Optional[str]) -> None:
    if group:
        db.execute("UPDATE tags SET calibration = NULL WHERE grp = ?", (group,))


# -- examples and marks ------------------------------------------------------------------------

def add_example(store: LibraryStore, tag: Tag, path: str, model: str, vector: np.ndarray) -> None:
    with store.transaction(bump=False) as db:
        db.execute("INSERT OR REPLACE INTO tag_examples(tag_id, path, model, data) VALUES(?, ?, ?, ?)",
                   (tag.id, path, model, vector_blob(vector)))
        _uncalibrate(db, tag)


def example_vectors(store: LibraryStore, tag_id: int, model: str) -> np.ndarray:
    rows = store.connection().execute(
        "SELECT data FROM tag_examples WHERE tag_id = ? AND model = ?", (tag_id, model)).fetchall()
    return _vectors(r[0] for r in rows)


def example_paths(store: LibraryStore, tag_id: int) -> list[str]:
    rows = store.connection().execute("SELECT DISTINCT path FROM tag_examples WHERE tag_id = ?", (tag_id,))
    return [r[0] for r in rows]


def set_mark(store: LibraryStore, tag: Tag, content_hash: str, verdict: Optional[int]) -> None:
    """Confirm (CONFIRMED) or reject (REJECTED) a tag on an image's content; None forgets the mark."""
    with store.transaction(bump=False) as db:
        if verdict is None:
            db.execute("DELETE FROM tag_marks WHERE hash = ? AND tag_id = ?", (content_hash, tag.id))
        else:
            db.execute("INSERT OR REPLACE INTO tag_marks(hash, tag_id, verdict, marked) VALUES(?, ?, ?, ?)",
                       (content_hash, tag.id, int(verdict), time.time()))
        _uncalibrate(db, tag)


def marked_vectors(store: LibraryStore, tag_id: int, model: str, verdict: int) -> np.ndarray:
    """The vectors of the images the user confirmed (or rejected) this tag on."""
    rows = store.connection().execute(
        "SELECT v.data FROM tag_marks m JOIN vectors v ON v.hash = m.hash AND v.model = ? "
        "WHERE m.tag_id = ? AND m.verdict = ?", (model, tag_id, verdict)).fetchall()
    return _vectors(r[0] for r in rows)


def marks(store: LibraryStore) -> dict[tuple[int, int], int]:
    """{(tag id, image id): verdict} for every library image carrying marked content."""
    rows = store.connection().execute(
        "SELECT m.tag_id, i.id, m.verdict FROM tag_marks m JOIN images i ON i.hash = m.hash")
    return {(r[0], r[1]): r[2] for r in rows}


def _vectors(blobs: Iterable[bytes]) -> np.ndarray:
    data = list(blobs)
    if not data:
        return np.empty((0, 0), dtype=np.float32)
    return np.stack([np.frombuffer(b, dtype=np.float16).astype(np.float32) for b in data])


# -- assignments -------------------------------------------------------------------------------

def replace_assignments(store: LibraryStore, tag_ids: Sequence[int], image_ids: Optional[np.ndarray],
                        rows: Iterable[tuple[int, int, float]]) -> int:
    """Replace the assignments of these tags (on these images only, or on every image) with
    `rows` (consumed as they come); how many were written."""
    with store.transaction(bump=False) as db:
        for tag_id in tag_ids:
            if image_ids is None:
                db.execute("DELETE FROM image_tags WHERE tag_id = ?", (int(tag_id),))
                continue
            for start in range(0, len(image_ids), ID_CHUNK):
                chunk = [int(i) for i in image_ids[start:start + ID_CHUNK]]
                db.execute(f"DELETE FROM image_tags WHERE tag_id = ? AND image_id IN ({','.join('?' * len(chunk))})",
                           (int(tag_id), *chunk))
        # An image removed meanwhile has no row to refer to: its assignment is dropped.
        before = db.total_changes
        db.executemany("INSERT OR IGNORE INTO image_tags(tag_id, image_id, score) "
                       "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM images WHERE id = ?)",
                       ((int(t), int(i), float(s), int(i)) for t, i, s in rows))
        return db.total_changes - before


def tag_counts(store: LibraryStore) -> dict[int, int]:
    return dict(store.connection().execute("SELECT tag_id, COUNT(*) FROM image_tags GROUP BY tag_id").fetchall())


def tagged_images(store: LibraryStore, tag_id: int) -> list[tuple[int, float]]:
    """(image id, score above the threshold), best first."""
    return store.connection().execute(
        "SELECT image_id, score FROM image_tags WHERE tag_id = ? ORDER BY score DESC, image_id", (tag_id,)).fetchall()


def tags_of_images(store: LibraryStore, image_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for start in range(0, len(image_ids), ID_CHUNK):
        chunk = [int(i) for i in image_ids[start:start + ID_CHUNK]]
        for image_id, label in store.connection().execute(
            "SELECT it.image_id, t.label FROM image_tags it JOIN tags t ON t.id = it.tag_id "
            f"WHERE it.image_id IN ({','.join('?' * len(chunk))}) ORDER BY it.score DESC", chunk
        ):
            found.setdefault(image_id, []).append(label)
    return found


# -- change-log positions ----------------------------------------------------------------------

def cursor(store: LibraryStore, name: str, model: str) -> Optional[int]:
    row = store.connection().execute(
        "SELECT seq FROM analysis_cursors WHERE name = ? AND model = ?", (name, model)).fetchone()
    return int(row[0]) if row else None


def set_cursor(store: LibraryStore, name: str, model: str, seq: int) -> None:
    with store.transaction(bump=False) as db:
        db.execute("INSERT OR REPLACE INTO analysis_cursors(name, model, seq) VALUES(?, ?, ?)", (name, model, seq))


def changed_images(store: LibraryStore, since: Optional[int], upto: int) -> Optional[np.ndarray]:
    """Image ids the change log names in (since, upto]; None when only a full pass will do (never
    run, or the log was pruned past `since`)."""
    if since is None or store.changes_floor() > since:
        return None
    rows = store.connection().execute(
        "SELECT DISTINCT image_id FROM changes WHERE seq > ? AND seq <= ?", (since, upto)).fetchall()
    return np.array(sorted(r[0] for r in rows), dtype=np.int64)


# -- close pairs (duplicates) ------------------------------------------------------------------

def replace_pairs(store: LibraryStore, image_ids: Optional[np.ndarray],
                  rows: Iterable[tuple[int, int, float, Optional[float], Optional[int]]]) -> None:
    """Replace the close pairs touching these images (or every pair) with `rows`:
    (a < b, cosine, print distance or None, hash bits apart or None)."""
    with store.transaction(bump=False) as db:
        if image_ids is None:
            db.execute("DELETE FROM close_pairs")
        else:
            for start in range(0, len(image_ids), ID_CHUNK):
                chunk = [int(i) for i in image_ids[start:start + ID_CHUNK]]
                marks = ",".join("?" * len(chunk))
                db.execute(f"DELETE FROM close_pairs WHERE a IN ({marks}) OR b IN ({marks})", (*chunk, *chunk))
        db.executemany(
            "INSERT OR REPLACE INTO close_pairs(a, b, score, pixels, bits) SELECT ?, ?, ?, ?, ? "
            "WHERE EXISTS (SELECT 1 FROM images WHERE id = ?) AND EXISTS (SELECT 1 FROM images WHERE id = ?)",
            ((int(a), int(b), float(s), p, h, int(a), int(b)) for a, b, s, p, h in rows))


def pair_count(store: LibraryStore) -> int:
    return int(store.connection().execute("SELECT COUNT(*) FROM close_pairs").fetchone()[0])


def pairs(store: LibraryStore) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every stored close pair between indexed images: (a, b, cosine, print distance, hash bits
    apart; NaN where not measured)."""
    rows = store.connection().execute(
        "SELECT p.a, p.b, p.score, p.pixels, p.bits FROM close_pairs p JOIN images x ON x.id = p.a "
        "JOIN images y ON y.id = p.b WHERE x.status = 'ok' AND y.status = 'ok'").fetchall()
    if not rows:
        return (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32), np.empty(0, np.float32),
                np.empty(0, np.float32))
    a, b, s, p, h = zip(*rows)
    pixels = np.array([np.nan if v is None else v for v in p], dtype=np.float32)
    bits = np.array([np.nan if v is None else v for v in h], dtype=np.float32)
    return np.array(a, dtype=np.int64), np.array(b, dtype=np.int64), np.array(s, dtype=np.float32), pixels, bits


def same_content_images(store: LibraryStore) -> list[list[int]]:
    """Ids of indexed images sharing a content hash, one list per hash held more than once."""
    rows = store.connection().execute(
        "SELECT hash, id FROM images WHERE status = 'ok' AND hash IN "
        "(SELECT hash FROM images WHERE status = 'ok' AND hash IS NOT NULL GROUP BY hash HAVING COUNT(*) > 1) "
        "ORDER BY hash, id").fetchall()
    found: dict[str, list[int]] = {}
    for digest, image_id in rows:
        found.setdefault(digest, []).append(image_id)
    return list(found.values())


def bursts(store: LibraryStore, seconds: float) -> list[tuple[int, int]]:
    """Consecutive pictures of a folder whose camera dates lie within `seconds` of each other."""
    rows = store.connection().execute(
        "SELECT id, folder_id, taken FROM images WHERE status = 'ok' AND taken IS NOT NULL ORDER BY folder_id, taken")
    found, last = [], None
    for image_id, folder_id, taken in rows:
        if last is not None and last[1] == folder_id and taken - last[2] <= seconds:
            found.append((last[0], image_id))
        last = (image_id, folder_id, taken)
    return found
