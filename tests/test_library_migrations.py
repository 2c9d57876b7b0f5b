"""The library database upgrades from release 0.1.0, refuses newer files and fails without harm."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from latentstudio.library import store as store_module
from latentstudio.library.store import LibraryStore, LibraryVersionError, backup_path, schema_version

SCHEMA_0_1_0 = (Path(__file__).parent / "support" / "library-0.1.0.sql").read_text()


def write_0_1_0_library(path: Path) -> None:
    """A database exactly as release 0.1.0 left it: two folders, three images, two vectors."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA_0_1_0)
    db.execute("BEGIN")
    db.execute("INSERT INTO folders(id, path, role, added, scanned) VALUES(1, '/photos', 'user', 1.0, 2.0)")
    db.execute("INSERT INTO folders(id, path, role, added) VALUES(2, '/outputs', 'generated', 1.0)")
    for image_id, folder, name, digest, status in [
        (1, 1, "/photos/a.jpg", "h1", "ok"),
        (2, 1, "/photos/b.png", "h2", "ok"),
        (3, 2, "/outputs/c.png", None, "skipped"),
    ]:
        db.execute(
            "INSERT INTO images(id, folder_id, path, size, mtime, hash, width, height, format, status, "
            "reason, generated, prompt, added) VALUES(?, ?, ?, 10, 1.0, ?, 4, 3, 'JPEG', ?, ?, ?, ?, 1.0)",
            (image_id, folder, name, digest, status, "truncated" if status == "skipped" else None,
             int(folder == 2), "a red circle" if folder == 2 else None),
        )
    for digest, seed in (("h1", 1), ("h2", 2)):
        vector = np.random.default_rng(seed).standard_normal(8).astype(np.float16)
        db.execute("INSERT INTO vectors(hash, model, dim, data) VALUES(?, 'clip', 8, ?)", (digest, vector.tobytes()))
    db.execute("COMMIT")
    db.close()


def test_a_new_database_is_at_the_current_format(tmp_path: Path) -> None:
    library = LibraryStore(tmp_path / "library.sqlite3")
    try:
        assert schema_version(library.connection()) == len(store_module.MIGRATIONS)
    finally:
        library.close()
    assert not list(tmp_path.glob("*.bak"))


def test_a_0_1_0_library_opens_with_everything_in_it(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    write_0_1_0_library(path)
    library = LibraryStore(path)
    try:
        assert schema_version(library.connection()) == len(store_module.MIGRATIONS)
        assert [(f.path, f.role) for f in library.folders()] == [(Path("/outputs"), "generated"), (Path("/photos"), "user")]
        rows = library.images_by_ids([1, 2, 3])
        assert {r.path for r in rows.values()} == {"/photos/a.jpg", "/photos/b.png", "/outputs/c.png"}
        assert rows[3].reason == "truncated" and rows[3].generated and rows[3].prompt == "a red circle"
        expected = np.random.default_rng(1).standard_normal(8).astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(library.vector_for_hash("h1", "clip"), expected)
        assert library.status()["vectors"] == {"clip": 2}
    finally:
        library.close()
    backup = backup_path(path, 0)
    assert backup.is_file()
    with sqlite3.connect(backup) as copy:
        assert schema_version(copy) == 0
        assert copy.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 3


def test_a_newer_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    write_0_1_0_library(path)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(store_module.MIGRATIONS) + 5}")
    before = path.read_bytes()
    with pytest.raises(LibraryVersionError, match="newer Latent Studio"):
        LibraryStore(path)
    assert path.read_bytes() == before


def test_a_failed_migration_leaves_the_original_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "library.sqlite3"
    write_0_1_0_library(path)

    def broken(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE images ADD COLUMN rating INTEGER")
        db.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, broken])
    with pytest.raises(LibraryVersionError, match="was not changed"):
        LibraryStore(path)
    with sqlite3.connect(path) as db:
        assert schema_version(db) == 0
        columns = {row[1] for row in db.execute("PRAGMA table_info(images)")}
        assert "rating" not in columns
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 2
