"""Every released version's data home opens in this release with everything in it.

The homes in tests/support/homes/ were written by the release each is named after (see
tests/support/release_homes.py) and are never regenerated; a test copy is upgraded here.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from latentstudio import __version__
from latentstudio.codegen.history import HistoryStore
from latentstudio.context import AppContext
from latentstudio.engine import DeviceInfo
from latentstudio.library import store as store_module
from latentstudio.library.store import migrations
from latentstudio.paths import Paths
from tests.support.release_homes import HOMES

RELEASES = sorted(p.name for p in HOMES.iterdir() if p.is_dir())


def test_the_current_release_keeps_its_home() -> None:
    assert __version__ in RELEASES, f"write tests/support/homes/{__version__} (tests/support/release_homes.py)"
    assert "0.1.0" in RELEASES


@pytest.mark.parametrize("release", RELEASES)
def test_a_released_home_opens_with_everything_in_it(release: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(HOMES / release, home, ignore=shutil.ignore_patterns("expected.json"))
    expected = json.loads((HOMES / release / "expected.json").read_text())
    ctx = AppContext(Paths(home), device=DeviceInfo.cpu("tests run on the CPU"))
    try:
        assert not ctx.settings.problems
        for key, value in expected["settings"].items():
            assert getattr(ctx.settings, key) == value, key
        store = ctx.library.store
        assert sorted(str(f.path) for f in store.folders()) == expected["folders"]
        rows = {row.path: row.status for row in store.images_by_paths(expected["images"]).values()}
        assert rows == expected["images"]
        vectors = expected["vectors"]
        assert store.status()["vectors"] == {vectors["model"]: vectors["count"]}
        assert store_module.schema_version(store.connection()) == len(migrations.MIGRATIONS)
        for kind, ids in expected["models"].items():
            assert [m.id for m in ctx.registry.list(kind)] == ids
        entries = HistoryStore(ctx.paths.code_history_db).list()
        assert [(e.prompt, e.code) for e in entries] == [(h["prompt"], h["code"]) for h in expected["history"]]
    finally:
        ctx.close()
    # The committed home itself is never touched by a test.
    with sqlite3.connect(f"file:{HOMES / release / 'library.sqlite3'}?mode=ro", uri=True) as db:
        assert db.execute("SELECT COUNT(*) FROM images").fetchone()[0] == len(expected["images"])


def test_close_pairs_measured_the_old_way_are_measured_again(tmp_path: Path) -> None:
    """0.2.0 stored near candidates' pixel-print distances unaligned and without a hash: the
    upgrade drops them and the duplicates' cursor, so the next duplicates job measures again."""
    home = tmp_path / "home"
    shutil.copytree(HOMES / "0.2.0", home, ignore=shutil.ignore_patterns("expected.json"))
    with sqlite3.connect(home / "library.sqlite3") as db:
        ids = [r[0] for r in db.execute("SELECT id FROM images ORDER BY id LIMIT 2")]
        db.execute("INSERT INTO close_pairs(a, b, score, pixels) VALUES(?, ?, 0.95, 20.0)", ids)
        db.execute("INSERT INTO analysis_cursors(name, model, seq) VALUES('duplicates', 'm', 7), ('tags', 'm', 7)")
    ctx = AppContext(Paths(home), device=DeviceInfo.cpu("tests run on the CPU"))
    try:
        db = ctx.library.store.connection()
        assert db.execute("SELECT COUNT(*) FROM close_pairs").fetchone()[0] == 0
        assert [r[0] for r in db.execute("SELECT name FROM analysis_cursors")] == ["tags"]
        assert "bits" in [r[1] for r in db.execute("PRAGMA table_info(close_pairs)")]
    finally:
        ctx.close()
