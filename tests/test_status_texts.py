"""Status texts say what is true: the filters (not the cut-off) left nothing; no stale full bar
while nothing is indexed; the pictures counted are the searchable ones; 1 picture, 2 pictures."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from latentstudio.cli import main
from latentstudio.engine import Progress
from latentstudio.ui.page_services import PageServices
from latentstudio.ui.pages.search_page import SearchPage
from latentstudio.ui.widgets.search_folders import SearchFoldersPanel
from latentstudio.units import counted
from tests.support import tiny_clip


@pytest.fixture
def page(qtbot, shapes):
    ctx, photos = shapes
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 20)
    (photos / "empty.png").write_bytes(b"")
    page = SearchPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.show()
    page.controller.start()
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)
    yield page
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)


def test_nothing_found_says_whether_the_filters_or_the_cut_off_left_nothing(qtbot, page: SearchPage) -> None:
    # 74 files, 2 of them unreadable: 72 can be searched, and the page says so.
    page.refresh_folders()
    qtbot.waitUntil(lambda: "search 72 pictures." in page.results.placeholderText(), timeout=5000)
    page.filters.min_score.setValue(0.99)
    qtbot.keyClicks(page.query, "a glowing lantern")  # words no file name holds: pictures only
    qtbot.waitUntil(lambda: "score above 0.99" in page.summary.text(), timeout=30000)
    page.filters.min_score.setValue(-1.0)
    page.filters.min_side.setValue(5000)  # no picture is that large: the filters leave nothing
    page.run_search()
    qtbot.waitUntil(lambda: "passes the filters" in page.summary.text(), timeout=30000)
    assert "score above" not in page.summary.text()
    page.filters.min_side.setValue(0)
    page.run_search()
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=30000)


def test_the_cli_says_the_filters_left_nothing(shapes, capsys) -> None:
    ctx, _ = shapes
    ctx.close()
    assert main(["search", "a glowing lantern", "--min-side", "5000", "--min-score", "-1"]) == 0
    assert "No picture passes the filters" in capsys.readouterr().err
    assert main(["search", "a glowing lantern", "--min-score", "0.99"]) == 0
    assert "No matches above the score cut-off" in capsys.readouterr().err


def test_the_progress_bar_never_keeps_the_last_jobs_value(qtbot) -> None:
    panel = SearchFoldersPanel()
    qtbot.addWidget(panel.footer)
    panel.footer.show()
    panel.show_progress(Progress(18, 18, "Reading new and changed files: 18 of 18"))
    assert panel.progress.isVisible() and panel.progress.value() == panel.progress.maximum()
    panel.show_progress(Progress(0, 0, "nothing to index"))  # a full bar beside "18 waiting" before
    assert not panel.progress.isVisible() and panel.status.text() == "nothing to index"
    panel.show_progress(Progress(500, None, "Looking for changes: 500 files"))
    assert panel.progress.isVisible() and panel.progress.maximum() == 0  # busy, not a stale value


def test_counts_agree_with_their_nouns(tmp_path: Path, ctx, tiny_models, capsys) -> None:
    assert [counted(n, "picture") for n in (0, 1, 2, 12345)] == ["0 pictures", "1 picture", "2 pictures",
                                                                "12,345 pictures"]
    ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="tiny", link=True)
    ctx.close()
    photos = tmp_path / "photos"
    photos.mkdir()
    tiny_clip.shape_image("red", "circle", random.Random(1), size=64).save(photos / "one.png")
    assert main(["index", str(photos)]) == 0
    assert main(["library", "status"]) == 0
    out = capsys.readouterr().out
    assert "Library: 1 image · 1 indexed" in out and ": 1 image, 1 indexed" in out


def test_indexing_one_picture_says_picture(qtbot, ctx, tiny_models, tmp_path: Path) -> None:
    ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="tiny", link=True)
    photos = tmp_path / "photos"
    photos.mkdir()
    tiny_clip.shape_image("red", "circle", random.Random(1), size=64).save(photos / "one.png")
    page = SearchPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.show()
    page.controller.start()
    page.add_folder(photos)  # while the start-up scan waits: it was scanned only at the next poll
    qtbot.waitUntil(lambda: page.folders.status.text().startswith("Indexed"), timeout=60000)
    assert page.folders.status.text() == "Indexed 1 picture"
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)
