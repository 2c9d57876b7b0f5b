"""The library database's formats, frozen: the schema release 0.1.0 created (format 0) and the
migrations that bring any older file to the current format, each in one transaction after a
backup copy (LibraryStore in __init__.py runs them).

Append only, and import nothing that can change: a released migration must do tomorrow exactly
what it did the day it shipped, so what it needs from elsewhere is copied here as it was then.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Callable, Optional

SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('version', '0');
INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');
CREATE TABLE IF NOT EXISTS folders(
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    role TEXT NOT NULL DEFAULT 'user',
    added REAL NOT NULL,
    scanned REAL
);
CREATE TABLE IF NOT EXISTS images(
    id INTEGER PRIMARY KEY,
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    path TEXT UNIQUE NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    hash TEXT,
    width INTEGER,
    height INTEGER,
    taken REAL,
    format TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    generated INTEGER NOT NULL DEFAULT 0,
    prompt TEXT,
    added REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS images_hash ON images(hash);
CREATE INDEX IF NOT EXISTS images_folder ON images(folder_id);
CREATE INDEX IF NOT EXISTS images_status ON images(status);
CREATE TABLE IF NOT EXISTS vectors(
    hash TEXT NOT NULL,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY(hash, model)
) WITHOUT ROWID;
-- Which images changed, in order: in-memory search indexes catch up from here instead of
-- re-reading every vector. Rows up to meta 'changes_floor' have been pruned.
CREATE TABLE IF NOT EXISTS changes(seq INTEGER PRIMARY KEY AUTOINCREMENT, image_id INTEGER NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('changes_floor', '0');
CREATE TRIGGER IF NOT EXISTS images_added AFTER INSERT ON images
BEGIN INSERT INTO changes(image_id) VALUES(NEW.id); END;
CREATE TRIGGER IF NOT EXISTS images_changed
AFTER UPDATE OF folder_id, size, mtime, hash, width, height, taken, format, status ON images
BEGIN INSERT INTO changes(image_id) VALUES(NEW.id); END;
CREATE TRIGGER IF NOT EXISTS images_removed AFTER DELETE ON images
BEGIN INSERT INTO changes(image_id) VALUES(OLD.id); END;
CREATE TRIGGER IF NOT EXISTS vectors_added AFTER INSERT ON vectors
BEGIN INSERT INTO changes(image_id) SELECT id FROM images WHERE hash = NEW.hash; END;
CREATE TRIGGER IF NOT EXISTS vectors_removed AFTER DELETE ON vectors
BEGIN INSERT INTO changes(image_id) SELECT id FROM images WHERE hash = OLD.hash; END;
COMMIT;
"""

# Format 2's keyword table: Porter stemming over unicode61 ("boats" finds "boat"), accents
# folded ("café" finds "cafe").
WORDS_TOKENIZER = "porter unicode61 remove_diacritics 2"


def _name_words(path: str, folder: Optional[str]) -> str:
    """words.name_words as format 2 shipped it: the path inside its folder, without the extension."""
    relative = os.path.relpath(path, folder) if folder else os.path.basename(path)
    if relative.startswith(".."):
        relative = os.path.basename(path)
    return os.path.splitext(relative)[0]


def _user_version_replaces_meta_row(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM meta WHERE key = 'schema_version'")


def _image_words(db: sqlite3.Connection) -> None:
    """Keyword search: an FTS5 table of each image's name and embedded text (rowid = image id).

    Names come from the paths now; the text inside the files is read by the next scan (the
    `words_read` flag marks the rows it has done), so the upgrade itself opens no file.
    """
    db.execute("ALTER TABLE images ADD COLUMN words_read INTEGER NOT NULL DEFAULT 0")
    db.execute(f"CREATE VIRTUAL TABLE image_words USING fts5(name, text, tokenize='{WORDS_TOKENIZER}')")
    db.execute("CREATE TRIGGER image_words_removed AFTER DELETE ON images "
               "BEGIN DELETE FROM image_words WHERE rowid = OLD.id; END")
    rows = db.execute(
        "SELECT images.id, images.path, folders.path, images.prompt FROM images "
        "JOIN folders ON folders.id = images.folder_id"
    ).fetchall()
    db.executemany(
        "INSERT INTO image_words(rowid, name, text) VALUES(?, ?, ?)",
        ((image_id, _name_words(path, folder), prompt or "") for image_id, path, folder, prompt in rows),
    )


def _analysis_tables(db: sqlite3.Connection) -> None:
    """Tags (words, groups, calibration, example vectors, the user's confirm/reject marks by
    content, so they follow a moved file), tag assignments, close pairs for duplicates (CLIP
    cosine and, for near candidates, the distance of their pixel prints), and
    how far each analysis has followed the change log."""
    for statement in (
        "CREATE TABLE tags(id INTEGER PRIMARY KEY, label TEXT UNIQUE NOT NULL, grp TEXT, "
        "adjust REAL NOT NULL DEFAULT 0, calibration TEXT, added REAL NOT NULL)",
        "CREATE TABLE tag_examples(tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE, "
        "path TEXT NOT NULL, model TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY(tag_id, path, model))",
        "CREATE TABLE tag_marks(hash TEXT NOT NULL, tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE, "
        "verdict INTEGER NOT NULL, marked REAL NOT NULL, PRIMARY KEY(hash, tag_id)) WITHOUT ROWID",
        "CREATE TABLE image_tags(tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE, "
        "image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE, score REAL NOT NULL, "
        "PRIMARY KEY(tag_id, image_id)) WITHOUT ROWID",
        "CREATE INDEX image_tags_image ON image_tags(image_id)",
        "CREATE TABLE close_pairs(a INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE, "
        "b INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE, score REAL NOT NULL, pixels REAL, "
        "PRIMARY KEY(a, b)) WITHOUT ROWID",
        "CREATE INDEX close_pairs_b ON close_pairs(b)",
        "CREATE TABLE analysis_cursors(name TEXT NOT NULL, model TEXT NOT NULL, seq INTEGER NOT NULL, "
        "PRIMARY KEY(name, model))",
    ):
        db.execute(statement)


def _clip_scores_table(db: sqlite3.Connection) -> None:
    """Generated images' CLIP score against their prompt, per model, keyed by content like vectors."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS clip_scores(hash TEXT NOT NULL, model TEXT NOT NULL, score REAL NOT NULL, "
        "PRIMARY KEY(hash, model)) WITHOUT ROWID"
    )


def _near_duplicate_hashes(db: sqlite3.Connection) -> None:
    """Near-duplicates measured by pixels at the best-aligned centred crop: the colour print's
    distance (`pixels`, as before but aligned) and the Hamming distance of difference hashes
    (`bits`). The stored pairs were measured the old way, so they go, with the duplicates' place
    in the change log: the next duplicates job measures every pair again."""
    db.execute("ALTER TABLE close_pairs ADD COLUMN bits INTEGER")
    db.execute("DELETE FROM close_pairs")
    db.execute("DELETE FROM analysis_cursors WHERE name = 'duplicates'")


def _photo_folder_files(db: sqlite3.Connection) -> None:
    """Every file of a photo folder: ratings and colour labels (XMP), the sidecar's time (a changed
    sidecar re-reads the words, not the pixels), a video's length and codec, the file paired with a
    picture (a RAW beside its JPEG, a Live Photo's video), and videos' moments: a vector per
    sampled frame, keyed like vectors by content, with its time. Every file's words are read again
    by the next scan, for the ratings and keywords the earlier reading left out."""
    for column in ("rating INTEGER", "label TEXT", "sidecar_mtime REAL", "duration REAL", "codec TEXT",
                   "companion TEXT"):
        db.execute(f"ALTER TABLE images ADD COLUMN {column}")
    db.execute("UPDATE images SET words_read = 0")
    db.execute(
        "CREATE TABLE moments(hash TEXT NOT NULL, model TEXT NOT NULL, time REAL NOT NULL, data BLOB NOT NULL, "
        "PRIMARY KEY(hash, model, time)) WITHOUT ROWID"
    )


# MIGRATIONS[i] upgrades a database from format i to i + 1 (format = PRAGMA user_version;
# release 0.1.0 wrote format 0 = SCHEMA). Append only: a released entry never changes.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _user_version_replaces_meta_row,
    _image_words,
    _analysis_tables,
    _clip_scores_table,
    _near_duplicate_hashes,
    _photo_folder_files,
]
