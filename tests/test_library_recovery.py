"""A damaged library database: found when it opens, said in words, set aside (never deleted) and
rebuilt from the newest good backup (one is written at each clean close, the last 3 kept)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentstudio.cli import main
from latentstudio.library import add_folders, submit_index
from latentstudio.library.store import analysis_tables as tables
from latentstudio.library.store.recovery import KEEP_BACKUPS, SUSPECT_SUFFIX, backups, damage


def _image(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(path)
    return path


def damage_middle(path: Path, seed: int = 7) -> None:
    """8 KB of random bytes written into the middle of the file, as a failing disk might."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size // 2)
        fh.write(np.random.default_rng(seed).bytes(8192))


@pytest.fixture
def indexed_home(ctx, tiny_models, tmp_path: Path) -> tuple[Path, Path]:
    """(data home, photos): a library of 24 pictures indexed, a tag with a mark, then closed cleanly."""
    ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="tiny", link=True)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(24):
        _image(photos / f"p{i:02d}.png", i)
    add_folders(ctx, [photos])
    ctx.library.scan()
    assert submit_index(ctx).result(120).encoded == 24
    store = ctx.library.store
    tag = tables.add_tag(store, "sunset", "sky")
    tables.set_mark(store, tag, store.image_by_path(str(photos / "p03.png")).hash, tables.CONFIRMED)
    ctx.close()
    return ctx.paths.home, photos


def test_a_damaged_library_is_reported_set_aside_and_rebuilt_from_the_backup(
    indexed_home: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    home, photos = indexed_home
    db = home / "library.sqlite3"
    assert len(backups(db)) == 1  # written at the clean close
    damage_middle(db)
    assert damage(db) is not None  # SQLite agrees the file is damaged

    code = main(["library", "status"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "library database was damaged" in err and "set aside" in err and "Traceback" not in err + out
    aside = [p for p in home.iterdir() if p.name.startswith("library.sqlite3.damaged-")]
    assert len(aside) == 1 and aside[0].stat().st_size > 0  # kept, never deleted
    assert damage(db) is None

    code = main(["index", "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and "damaged" not in err  # told once (by status); this run brings it up to date
    assert main(["library", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [f["path"] for f in status["folders"]] == [str(photos)]
    assert (status["indexed"], status["pending"]) == (24, 0)
    assert main(["tag", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert "sunset" in listed


def test_without_a_backup_the_folders_come_back_from_settings(indexed_home: tuple[Path, Path], capsys) -> None:
    home, photos = indexed_home
    db = home / "library.sqlite3"
    for backup in backups(db):
        backup.rename(backup.with_name("moved-away-" + backup.name))
    damage_middle(db)
    assert main(["index"]) == 1
    _, err = capsys.readouterr()
    assert "no good backup" in err
    assert main(["library", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [f["path"] for f in status["folders"]] == [str(photos)] and status["indexed"] == 24


def test_a_damaged_backup_is_passed_over_and_only_the_last_ones_are_kept(ctx, tmp_path: Path) -> None:
    from latentstudio.library.store import LibraryStore
    from latentstudio.library.store.recovery import open_store, write_backup

    path = tmp_path / "lib" / "library.sqlite3"
    store = LibraryStore(path)
    written = []
    for i in range(KEEP_BACKUPS + 2):
        photos = tmp_path / f"photos{i}"
        photos.mkdir()
        store.add_folder(photos)
        store.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        target = write_backup(store)
        assert target is not None
        os.utime(target, (10_000 + i, 10_000 + i))  # distinct times however fast the loop ran
        target.rename(target.with_name(f"library-backup-2026010{i}-000000.sqlite3"))
        written.append(target)
    store.close()
    kept = backups(path)
    assert len(kept) == KEEP_BACKUPS
    damage_middle(kept[-1], seed=1)
    with open(kept[-1], "r+b") as fh:  # the newest backup is no database at all
        fh.write(b"not a database" * 10)
    with open(path, "r+b") as fh:
        fh.write(b"\0" * 100)  # the header gone
    store, recovery = open_store(path)
    try:
        assert recovery is not None and recovery.backup == kept[-2]
        assert len(store.folders()) == KEEP_BACKUPS + 1  # the second newest backup's folders
    finally:
        store.close()
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(recovery.aside).execute("SELECT * FROM folders").fetchall()


def test_the_window_says_the_library_was_damaged_and_rebuilds_it(qtbot, shapes) -> None:
    from latentstudio.ui.page_services import PageServices
    from latentstudio.ui.pages.search_page import SearchPage

    ctx, photos = shapes
    db = ctx.paths.library_db
    damage_middle(db)
    assert damage(db) is not None
    page = SearchPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.show()  # the library opens (and is checked) off the GUI thread
    qtbot.waitUntil(lambda: "damaged" in page.summary.text(), timeout=30000)
    notice = page.folders.notice.text()
    assert page.folders.notice.isVisible() and "set aside" in notice and "restored from the backup" in notice
    assert any(p.name.startswith("library.sqlite3.damaged-") for p in ctx.paths.home.iterdir())
    page.controller.start()
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)
    page.refresh_folders()
    qtbot.waitUntil(lambda: page.folders.list.count() == 1 and "72 indexed" in page.folders.list.item(0).text(),
                    timeout=30000)
    assert page.folders.notice.text() == notice  # still said after the rescan's own messages


def _damage_vectors_root(db: Path) -> None:
    """Garbage over the first page of the vectors table only (the part the check at open skips)."""
    with sqlite3.connect(db) as con:
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'vectors'").fetchone()[0]
    with open(db, "r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(np.random.default_rng(3).bytes(page_size))


def test_damage_among_the_vectors_is_found_by_the_search_and_rebuilt_at_the_next_open(
    indexed_home: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    home, photos = indexed_home
    db = home / "library.sqlite3"
    _damage_vectors_root(db)
    assert damage(db, whole=False) is None and damage(db) is not None  # the open's check reads around it
    assert main(["search", "a picture", "--json"]) == 1
    assert "damaged" in capsys.readouterr().err
    assert Path(f"{db}{SUSPECT_SUFFIX}").exists()
    assert main(["library", "status", "--json"]) == 1  # this open checks the whole file
    assert "set aside" in capsys.readouterr().err
    assert not Path(f"{db}{SUSPECT_SUFFIX}").exists() and list(home.glob("library.sqlite3.damaged-*"))


def test_a_backup_keeps_what_the_user_made_and_not_what_can_be_made_again(indexed_home: tuple[Path, Path]) -> None:
    home, _ = indexed_home
    [backup] = backups(home / "library.sqlite3")
    with sqlite3.connect(backup) as con:
        assert con.execute("SELECT label FROM tags").fetchall() == [("sunset",)]
        assert con.execute("SELECT COUNT(*) FROM tag_marks").fetchone()[0] == 1
        assert con.execute("SELECT COUNT(*) FROM folders").fetchone()[0] >= 1
        assert con.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0
        assert con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 0


def test_a_locked_library_is_not_taken_for_a_damaged_one(tmp_path: Path) -> None:
    from latentstudio.library.store import LibraryStore

    path = tmp_path / "library.sqlite3"
    LibraryStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        original = sqlite3.connect
        with pytest.MonkeyPatch.context() as patch:  # no 30 s wait for the lock in a test
            patch.setattr(sqlite3, "connect", lambda *a, **k: original(*a, **{**k, "timeout": 0.1}))
            with pytest.raises(sqlite3.OperationalError):
                damage(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert path.exists() and damage(path) is None


def test_a_backup_is_written_only_when_the_users_own_data_changed(tmp_path: Path) -> None:
    from latentstudio.library.store import LibraryStore
    from latentstudio.library.store.recovery import write_backup

    path = tmp_path / "lib" / "library.sqlite3"
    store = LibraryStore(path)
    (tmp_path / "a").mkdir()
    store.add_folder(tmp_path / "a")
    first = write_backup(store)
    assert first is not None
    store.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as the close does, after the backup
    os.utime(path, (first.stat().st_mtime + 5,) * 2)
    assert write_backup(store) is None  # the database file is newer, its folders and tags the same
    (tmp_path / "b").mkdir()
    store.add_folder(tmp_path / "b")
    os.utime(first, (first.stat().st_mtime - 5,) * 2)
    second = write_backup(store)
    assert second is not None
    with contextlib.closing(sqlite3.connect(second)) as backup:
        assert backup.execute("SELECT count(*) FROM folders").fetchone() == (2,)
    store.close()
