"""The Search page with qtbot: type a query and the grid fills; drop an image and similar ones come first."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from latentstudio.ui.page_services import PageServices
from latentstudio.ui.pages.search_page import SearchPage
from tests.support import tiny_clip


def _shape_class(path: Path) -> str:
    return "-".join(path.stem.split("-")[:2])


@pytest.fixture
def page(qtbot, shapes):
    ctx, _ = shapes
    page = SearchPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.filters.min_score.setValue(-1.0)  # a tiny model's cosines are not calibrated like CLIP's
    page.show()
    page.controller.start()  # as the window does after its first paint
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)  # the start-up rescan
    yield page
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)


def test_typing_a_query_fills_the_grid(qtbot, page: SearchPage) -> None:
    assert page.shows_tools  # the model is installed: the search UI shows
    # Folder counts are read in the background and arrive shortly after the page shows.
    qtbot.waitUntil(lambda: page.folders.list.count() > 0, timeout=10000)
    assert "0 waiting" in page.folders.list.item(0).text()
    qtbot.keyClicks(page.query, "a red circle")
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=30000)
    hits = page.results_model.hits
    assert _shape_class(hits[0].path) == "red-circle"
    assert "pictures" in page.summary.text()
    # Thumbnails load lazily and replace the placeholder.
    first = page.results_model.index(0)
    qtbot.waitUntil(lambda: page.loader.pixmap(page.results_model._key(hits[0]), None) is not None, timeout=10000)
    assert not first.data(Qt.ItemDataRole.DecorationRole).isNull()


def test_dropping_an_image_puts_similar_ones_first(qtbot, page: SearchPage, tmp_path: Path) -> None:
    example = tmp_path / "example.png"
    tiny_clip.shape_image("yellow", "square", random.Random(5), size=96).save(example)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(example))])
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    page.drop_zone.dropEvent(drop)
    assert page.drop_zone.image == example
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=30000)
    top = [_shape_class(h.path) for h in page.results_model.hits[:3]]
    assert top[0] == "yellow-square"
    assert all(name.startswith("yellow") for name in top)


def test_more_like_this_and_cut_off(qtbot, page: SearchPage) -> None:
    library = page.ctx.library
    target = next(Path(r.path) for r in library.store.images_in(library.folders()[0].id).values()
                  if "blue-triangle" in r.path)
    page.search_by_image(target)
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=30000)
    assert page.results_model.hits[0].path == target
    assert page.results_model.hits[0].score == pytest.approx(1.0, abs=1e-2)

    page.filters.min_score.setValue(1.0)
    page.run_search()
    qtbot.waitUntil(lambda: "No pictures" in page.summary.text() or page.results_model.rowCount() <= 1,
                    timeout=30000)
    assert page.ctx.settings.search_min_score == 1.0  # the cut-off persists


def test_a_hundred_thousand_results_load_only_visible_thumbnails(qtbot, tmp_path: Path) -> None:
    from latentstudio.library import SearchHit
    from latentstudio.ui.widgets.search_results import SearchResultsModel, SearchResultsView
    from latentstudio.ui.widgets.thumbnail_loader import ThumbnailLoader

    loader = ThumbnailLoader()
    requested: list[str] = []
    original = loader.pixmap
    loader.pixmap = lambda key, source: (requested.append(key), original(key, None))[1]
    model = SearchResultsModel(loader)
    view = SearchResultsView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(900, 700)
    view.show()
    hits = [SearchHit(path=tmp_path / f"img{i:06d}.jpg", score=1.0 - i / 200_000, image_id=i) for i in range(100_000)]
    model.set_hits(hits)
    qtbot.waitUntil(lambda: len(requested) > 0, timeout=10000)
    view.scrollToBottom()
    qtbot.waitUntil(lambda: any(key.endswith("img099999.jpg") for key in requested), timeout=10000)
    bar = view.verticalScrollBar()
    rows_per_screen = view.viewport().height() // view.gridSize().height() + 1
    columns = view.viewport().width() // view.gridSize().width()
    # The layout runs in batches: the scroll range covers every row once it is done.
    qtbot.waitUntil(lambda: bar.maximum() >= (100_000 // columns - rows_per_screen) * view.gridSize().height(),
                    timeout=10000)
    bar.setValue(bar.maximum() // 2)  # the middle of the list, as a user drags the scroll bar
    qtbot.waitUntil(lambda: any(1000 < int(key[-10:-4]) < 99_000 for key in requested), timeout=10000)
    assert model.rowCount() == 100_000
    assert 0 < len(set(requested)) < 1000  # only rows on screen were asked for their picture


def test_a_query_typed_while_the_model_loads_says_so_and_answers_after(qtbot, page: SearchPage, monkeypatch) -> None:
    from latentstudio.models.text_encoding import onnx_tower

    real = onnx_tower.load_text_encoder
    loading = threading.Event()
    release = threading.Event()

    def slow_load(*args, **kwargs):
        loading.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(onnx_tower, "load_text_encoder", slow_load)
    page.warm_up()
    assert loading.wait(10)  # the warm-up job is loading the text tower
    page.query.setText("a blue square")
    page.run_search()
    assert page.summary.text() == "Loading the search model… 1 s"
    qtbot.waitUntil(lambda: page.summary.text() == "Loading the search model… 2 s", timeout=5000)
    release.set()
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=30000)
    assert _shape_class(page.results_model.hits[0].path) == "blue-square"
    assert "pictures" in page.summary.text() and not page._loading_tick.isActive()
    assert page._warmup_handle.result(5) is True
