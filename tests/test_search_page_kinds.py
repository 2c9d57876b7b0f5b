"""The Search page with a real photo folder's files: a video found at a moment says when and opens
there, RAW pairs and Live Photos say what they are, and the Filters panel filters by rating."""

from __future__ import annotations

import random
import stat
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from latentstudio.library import SearchHit
from latentstudio.ui import file_actions
from latentstudio.ui.page_services import PageServices
from latentstudio.ui.pages.search_page import SearchPage
from latentstudio.ui.widgets.search_results import describe, label
from tests.support import tiny_clip
from tests.support.camera_files import make_dng, make_video, xmp_sidecar


def shape(colour: str, kind: str, seed: int):
    return tiny_clip.shape_image(colour, kind, random.Random(seed), size=96)


@pytest.fixture
def page(qtbot, shapes):
    ctx, photos = shapes
    make_video(photos / "walk.mp4", [(shape("red", "circle", 1), 4.0), (shape("blue", "square", 2), 4.0)])
    make_dng(photos / "IMG_9.CR2", shape("yellow", "circle", 3), preview=96)
    shape("yellow", "circle", 3).save(photos / "IMG_9.JPG")
    (photos / "IMG_9.xmp").write_text(xmp_sidecar(["pier"], rating=5))
    page = SearchPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.filters.min_score.setValue(-1.0)
    page.show()
    page.controller.start()  # rescans the folder and indexes what is new
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=60000)
    yield page
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)


def test_a_video_is_found_at_its_moment_and_plays_from_there(qtbot, page: SearchPage, tmp_path: Path,
                                                             monkeypatch) -> None:
    qtbot.waitUntil(lambda: page.ctx.library.store.image_by_path(str(page.ctx.library.folders()[0].path / "walk.mp4"))
                    .status == "ok", timeout=60000)
    page.filters.file_type.setCurrentText("Video")
    qtbot.keyClicks(page.query, "a blue square")
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=30000)
    (hit,) = page.results_model.hits
    assert hit.path.name == "walk.mp4" and hit.time == 4.0
    first = page.results_model.index(0)
    assert first.data(Qt.ItemDataRole.DisplayRole).startswith("▶ 0:04 · ")
    assert "best moment at 0:04" in first.data(Qt.ItemDataRole.ToolTipRole)
    assert [a.text() for a in page.result_menu(hit).actions()][:2] == ["Play from 0:04", "Play from the start"]

    # A player that can be told where to start (VLC) starts there.
    played = tmp_path / "played.txt"
    player = tmp_path / "bin" / "vlc"
    player.parent.mkdir()
    player.write_text(f"#!/bin/sh\necho \"$@\" > {played}\n")
    player.chmod(player.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(player.parent))
    page.open_hit(hit)
    qtbot.waitUntil(played.exists, timeout=10000)
    assert played.read_text().split() == ["--start-time=4.00", str(hit.path)]

    # Without one, the system's app opens the video and the window says where the moment is.
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    monkeypatch.setattr(file_actions, "PLAYER_PLACES", {})
    opened: list = []
    monkeypatch.setattr(file_actions.QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    page.open_hit(hit)
    assert [u.toLocalFile() for u in opened] == [str(hit.path)]
    assert "the moment found is at 0:04" in page.summary.text()


def test_ratings_filter_and_pairs_say_what_they_are(qtbot, page: SearchPage) -> None:
    assert [page.filters.rating.itemText(i) for i in (0, 4, 5)] == ["Any rating", "★★★★☆ or more", "★★★★★"]
    page.filters.rating.setCurrentIndex(4)
    assert page.filters.filters().min_rating == 4 and page.filters.narrows()
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=30000)  # a filter alone lists
    (hit,) = page.results_model.hits
    assert hit.path.name == "IMG_9.JPG" and hit.kind == "raw+jpeg" and hit.rating == 5
    assert "RAW+JPEG" in page.results_model.index(0).data(Qt.ItemDataRole.DisplayRole)
    tooltip = describe(hit)
    assert "with the RAW file IMG_9.CR2" in tooltip and "★★★★★" in tooltip
    assert "Open IMG_9.CR2" in [a.text() for a in page.result_menu(hit).actions()]


def test_labels_name_every_kind() -> None:
    base = dict(score=0.5, image_id=1, matched="picture")
    assert label(SearchHit(Path("/p/a.NEF"), format="raw", **base)).startswith("RAW · 0.50")
    assert label(SearchHit(Path("/p/b.jpg"), companion=Path("/p/b.mov"), **base)).startswith("Live Photo · ")
    assert label(SearchHit(Path("/p/c.mp4"), format="video", **base)).startswith("▶ video · ")
    assert label(SearchHit(Path("/p/d.jpg"), **base)) == "0.50 · d.jpg"
    assert label(SearchHit(Path("/p/e.png"), generated=True, **base)) == "0.50 · e.png"
