"""A damaged library database: found when it opens, set aside (never deleted) and rebuilt from the
newest good backup; a backup is written at each clean close, the last KEEP_BACKUPS kept.

A backup (`library-backup-<time>.sqlite3` beside the library) is a library of the same format
holding what the user made by hand — folders, tags, tag examples, confirm/reject marks, CLIP
scores — and not what can be made again (pictures' rows, vectors, words, pairs): on a library
of 300,000 pictures a whole copy was 1.2 GB and 2.4 s at every close, this one is kilobytes.
Restoring it and rescanning its folders re-encodes the pictures.

The check at each open reads every table but the vectors (SQLite's quick_check per table): the
whole file took 21 s from a cold disk at 300,000 pictures. Damage that shows up later (a search
reading a damaged vector page) marks the file for the whole check at the next open
(`mark_suspect`), which then sets it aside and rebuilds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import LibraryStore

log = logging.getLogger(__name__)

KEEP_BACKUPS = 3
BACKUP_PREFIX = "library-backup-"
USER_TABLES = ("folders", "tags", "tag_examples", "tag_marks", "clip_scores")  # what a backup keeps
UNCHECKED_TABLES = ("vectors",)  # most of the file; read whole by every search, which finds damage
SUSPECT_SUFFIX = ".check"  # beside the database: check all of it at the next open
SIDE_FILES = ("", "-wal", "-shm")  # the database and the files SQLite keeps beside it in WAL mode


@dataclass(frozen=True)
class Recovery:
    """What happened to a damaged library at open."""

    problem: str  # what SQLite said about it
    aside: Path  # where the damaged file now is
    backup: Optional[Path]  # the backup the new library started from, or None (a new, empty one)

    def describe(self) -> str:
        if self.backup is not None:
            restored = (f"it was restored from the backup of {_when(self.backup)} (tags, marks and scores "
                        "included) and its folders are scanned and their pictures indexed again")
        else:
            restored = ("no good backup was found, so a new library was started: its folders are scanned and "
                        "indexed again; tags and marks made before are lost")
        return (f"The library database was damaged ({self.problem}). It was set aside as {self.aside.name} "
                f"(not deleted), and {restored}.")


def _when(backup: Path) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(backup.stat().st_mtime))


def mark_suspect(path: Path) -> None:
    """A read failed on damage: the next open checks the whole file (and rebuilds it)."""
    with contextlib.suppress(OSError):
        Path(f"{path}{SUSPECT_SUFFIX}").touch()


def damage(path: Path, whole: bool = True) -> Optional[str]:
    """What is wrong with the database at `path` (SQLite's quick_check: of every page, or with
    `whole` False of every table but the vectors), or None when it is sound or absent. It reads
    from disk, so it runs where the library opens: never on the GUI thread."""
    if not path.exists():
        return None
    db = None
    try:
        db = sqlite3.connect(path, timeout=30.0)
        if whole:
            problems = [str(row[0]) for row in db.execute("PRAGMA quick_check")]
        else:
            tables = [row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND sql NOT LIKE 'CREATE VIRTUAL%'")]
            problems = [str(row[0]) for name in tables if name not in UNCHECKED_TABLES
                        for row in db.execute(f'PRAGMA quick_check("{name}")')]
            problems = [p for p in problems if p != "ok"] or ["ok"]
    except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
        if isinstance(exc, sqlite3.OperationalError):  # locked, unreadable, a full disk: not damage
            raise
        return str(exc)
    finally:
        if db is not None:
            db.close()
    if problems == ["ok"]:
        return None
    return "; ".join(problems[:2]) + (f" (and {len(problems) - 2} more problems)" if len(problems) > 2 else "")


def backups(path: Path) -> list[Path]:
    """The library's backups, oldest first (their names sort by time)."""
    return sorted(path.parent.glob(f"{BACKUP_PREFIX}*.sqlite3"))


def holds_the_same(store: LibraryStore, backup: Path) -> bool:
    """Whether `backup` holds what the library's own tables hold now. The files' times alone
    cannot tell: the checkpoint at close rewrites the database after its backup, so every close
    wrote a new backup (0.1-0.2 s of a cold search). Reading these small tables twice costs less."""
    db = store.connection()
    try:
        db.execute("ATTACH DATABASE ? AS newest", (str(backup),))
    except sqlite3.DatabaseError:
        return False
    try:
        for table in USER_TABLES:
            ours = sorted(map(repr, db.execute(f"SELECT * FROM main.{table}")))
            if ours != sorted(map(repr, db.execute(f"SELECT * FROM newest.{table}"))):
                return False
        return True
    except sqlite3.DatabaseError:  # a damaged backup: write a good one
        return False
    finally:
        with contextlib.suppress(sqlite3.Error):
            db.execute("DETACH DATABASE newest")


def write_backup(store: LibraryStore) -> Optional[Path]:
    """Copy the user's own tables into a new library file beside it, unless the newest backup
    holds them as they are; keep the last KEEP_BACKUPS. Called at a clean close."""
    path = store.path
    existing = backups(path)
    changed = max((p.stat().st_mtime for p in (Path(f"{path}{s}") for s in SIDE_FILES[:2]) if p.exists()),
                  default=0.0)
    if existing and (existing[-1].stat().st_mtime >= changed or holds_the_same(store, existing[-1])):
        return None
    target = path.with_name(f"{BACKUP_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}.sqlite3")
    staging = target.with_name(f".{target.name}.partial")
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()  # a staging file left by a crash: our own, unfinished
    LibraryStore(staging).close()  # an empty library of this format
    db = store.connection()
    db.execute("ATTACH DATABASE ? AS backup", (str(staging),))
    try:
        db.execute("BEGIN")
        try:
            for table in USER_TABLES:
                db.execute(f"INSERT INTO backup.{table} SELECT * FROM main.{table}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.execute("DETACH DATABASE backup")
    os.replace(staging, target)
    for old in backups(path)[:-KEEP_BACKUPS]:
        with contextlib.suppress(OSError):
            old.unlink()  # the app's own rotated copies, not a user file
    return target


def set_aside(path: Path) -> Path:
    """Rename a damaged database (and its WAL files) to `<name>.damaged-<time>`; never delete it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    for suffix in SIDE_FILES:
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.rename(source, f"{aside}{suffix}")
    return aside


def open_store(path: Path) -> tuple[LibraryStore, Optional[Recovery]]:
    """Open the library at `path`; a damaged one is set aside first and the newest good backup
    (a copy of it) takes its place, or a new library when there is none."""
    suspect = Path(f"{path}{SUSPECT_SUFFIX}")
    problem = damage(path, whole=suspect.exists())
    if problem is None:
        with contextlib.suppress(FileNotFoundError):
            suspect.unlink()  # our own marker: the whole file was checked and is sound
        return LibraryStore(path), None
    log.error("library database %s is damaged: %s", path, problem)
    aside = set_aside(path)
    restored = None
    for backup in reversed(backups(path)):
        if damage(backup) is None:
            staging = path.with_name(f".{path.name}.restoring")
            shutil.copyfile(backup, staging)
            os.replace(staging, path)
            restored = backup
            break
        log.warning("backup %s is damaged too; trying an older one", backup)
    store = LibraryStore(path)  # upgrades a backup from an older release, or creates a new library
    with contextlib.suppress(FileNotFoundError):
        suspect.unlink()
    recovery = Recovery(problem, aside, restored)
    log.warning("%s", recovery.describe())
    return store, recovery
