"""The library database upgrades from release 0.1.0, refuses newer files and fails without harm."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from latentstudio.library.store import migrations
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
        assert schema_version(library.connection()) == len(migrations.MIGRATIONS)
    finally:
        library.close()
    assert not list(tmp_path.glob("*.bak"))


def test_a_0_1_0_library_opens_with_everything_in_it(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    write_0_1_0_library(path)
    library = LibraryStore(path)
    try:
        assert schema_version(library.connection()) == len(migrations.MIGRATIONS)
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
        db.execute(f"PRAGMA user_version = {len(migrations.MIGRATIONS) + 5}")
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

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken])
    with pytest.raises(LibraryVersionError, match="was not changed"):
        LibraryStore(path)
    with sqlite3.connect(path) as db:
        assert schema_version(db) == 0
        columns = {row[1] for row in db.execute("PRAGMA table_info(images)")}
        assert "rating" not in columns
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 2


def test_a_format_1_library_gains_the_analysis_tables_with_nothing_lost(tmp_path: Path, monkeypatch) -> None:
    """The release before the analysis tables (format 1) opens: its rows stay, the tables appear."""
    path = tmp_path / "library.sqlite3"
    write_0_1_0_library(path)
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
    LibraryStore(path).close()  # now at format 1
    monkeypatch.undo()
    db = sqlite3.connect(path)
    assert schema_version(db) == 1 and not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'tags'").fetchone()
    db.close()
    library = LibraryStore(path)
    try:
        db = library.connection()
        assert schema_version(db) == len(migrations.MIGRATIONS)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"tags", "tag_examples", "tag_marks", "image_tags", "close_pairs", "analysis_cursors"} <= tables
        assert {r.path for r in library.images_by_ids([1, 2, 3]).values()} == {"/photos/a.jpg", "/photos/b.png", "/outputs/c.png"}
        assert library.vector_for_hash("h1", "clip") is not None
    finally:
        library.close()
    assert backup_path(path, 1).exists()


def test_migrations_import_nothing_that_can_change() -> None:
    """A released migration must do tomorrow what it did the day it shipped."""
    import ast

    tree = ast.parse(Path(migrations.__file__).read_text(encoding="utf-8"))
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported <= {"__future__", "os", "sqlite3", "typing"}, imported
