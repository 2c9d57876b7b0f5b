"""The Search page with qtbot: type a query and the grid fills; drop an image and similar ones come first."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, QRect, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage

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
    bar = view.verticalScrollBar()
    rows_per_screen = view.viewport().height() // view.gridSize().height() + 1
    columns = view.viewport().width() // view.gridSize().width()
    # The layout runs in batches: the scroll range covers every row once it is done.
    qtbot.waitUntil(lambda: bar.maximum() >= (100_000 // columns - rows_per_screen) * view.gridSize().height(),
                    timeout=20000)
    view.scrollToBottom()
    qtbot.waitUntil(lambda: any(key.endswith("img099999.jpg") for key in requested), timeout=10000)
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


def _cells(page: SearchPage) -> set[tuple[int, int]]:
    view, model = page.results, page.results_model
    return {(view.visualRect(model.index(r)).width(), view.visualRect(model.index(r)).height())
            for r in range(model.rowCount())}


def test_every_search_lays_out_the_same_cells_with_room_for_the_caption(qtbot, page: SearchPage,
                                                                       tmp_path: Path) -> None:
    """The grid cached the size of one row of the first answer (its caption, its picture) for
    every row of the next ones: after a few searches pictures were cut to strips, captions gone."""
    page.resize(1366, 700)

    def answer(start) -> set[tuple[int, int]]:
        previous = page._search_handle
        start()
        qtbot.waitUntil(lambda: page._search_handle is not previous and page._search_handle.done()
                        and page.results_model.rowCount() > 0, timeout=30000)
        qtbot.wait(50)  # the batched layout
        return _cells(page)

    first = answer(lambda: page.query.setText("a red circle"))
    assert len(first) == 1
    (width, height), = first
    thumbnail = page.results.iconSize().height()
    caption = page.results.fontMetrics().lineSpacing()
    assert width >= thumbnail and height >= thumbnail + 2 * caption  # name and tags lines below it
    assert answer(lambda: page.query.setText("a blue square")) == first
    example = tmp_path / "example.png"
    tiny_clip.shape_image("green", "triangle", random.Random(3), size=96).save(example)
    page.query.clear()
    assert answer(lambda: page.drop_zone.choose_image(example)) == first  # Choose image…
    assert answer(lambda: page.search_by_image(page.results_model.hits[4].path)) == first  # More like this


def _view_with(qtbot, hits, loader):
    from latentstudio.ui.widgets.search_results import SearchResultsModel, SearchResultsView

    model = SearchResultsModel(loader)
    view = SearchResultsView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(700, 500)
    view.show()
    model.set_hits(hits)
    return view, model


def _bounds(image: QImage, rect: QRect, match) -> QRect:
    """The smallest rectangle holding every pixel of `rect` for which `match(QColor)` is true."""
    found = QRect()
    for y in range(rect.top(), rect.bottom() + 1):
        for x in range(rect.left(), rect.right() + 1):
            if match(image.pixelColor(x, y)):
                found = found.united(QRect(x, y, 1, 1))
    return found


def test_the_size_slider_scales_thumbnails_and_keeps_captions(qtbot, tmp_path: Path) -> None:
    from latentstudio.library import SearchHit
    from latentstudio.ui.widgets.thumbnail_loader import ThumbnailLoader

    thumb = tmp_path / "thumb.png"
    picture = Image.new("RGB", (160, 120), (0, 0, 255))  # a blue frame round a red picture
    picture.paste((255, 0, 0), (6, 6, 154, 114))
    picture.save(thumb)
    loader = ThumbnailLoader(size=160)
    hit = SearchHit(path=tmp_path / "IMG_0001.jpg", score=0.31, image_id=1, thumbnail=thumb, matched="both",
                    tags=("red", "circle"))
    view, model = _view_with(qtbot, [hit], loader)
    with qtbot.waitSignal(loader.ready, timeout=10000):
        model.data(model.index(0), Qt.ItemDataRole.DecorationRole)
    for size in (160, 100, 64):
        view.set_thumbnail_size(size)
        qtbot.wait(50)
        cell = view.visualRect(model.index(0))
        shot = view.viewport().grab().toImage()
        drawn = _bounds(shot, cell, lambda c: c.blue() > 200 and c.red() < 60 and c.green() < 60)
        assert drawn.width() == size and drawn.height() == size * 3 // 4  # scaled whole, never cropped
        below = QRect(cell.left(), drawn.bottom() + 1, cell.width(), cell.bottom() - drawn.bottom())
        text = _bounds(shot, below, lambda c: c.lightness() < 100)
        line = view.fontMetrics().lineSpacing()
        assert text.height() > line  # two lines of caption under the picture, inside the cell
    loader._pool.waitForDone()


def test_tag_lines_fit_their_cell_with_a_text_query(qtbot, tmp_path: Path) -> None:
    from latentstudio.library import SearchHit
    from latentstudio.ui.widgets.search_results import caption_lines, label
    from latentstudio.ui.widgets.thumbnail_loader import ThumbnailLoader

    hits = [SearchHit(path=tmp_path / f"beach-{i}.jpg", score=0.3, image_id=i, matched="both",
                      tags=("beach", "sunset", "sea")) for i in range(3)]
    view, model = _view_with(qtbot, hits, ThumbnailLoader(size=160))
    cell = view.visualRect(model.index(0))
    lines = caption_lines(label(hits[0]), view.fontMetrics(), cell.width() - 8)
    assert lines == ["both · 0.30 · beach-0.jpg", "#beach #sunset #sea"]


INVERSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
           5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_270}  # what a camera stores for each EXIF orientation


def _camera_photo(folder: Path, orientation: int, suffix: str = ".jpg") -> Path:
    """A 96×64 picture, red in its top-left quarter, stored as a camera with this orientation would."""
    upright = Image.new("RGB", (96, 64), (0, 0, 200))
    upright.paste((230, 0, 0), (0, 0, 48, 32))
    stored = upright.transpose(INVERSE[orientation]) if orientation in INVERSE else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = folder / f"photo-{orientation}{suffix}"
    if suffix == ".heic":
        from latentstudio.image_formats import register_heif

        register_heif()
    stored.save(path, exif=exif.tobytes(), quality=95)
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_the_example_preview_is_upright(qtbot, tmp_path: Path, orientation: int) -> None:
    from latentstudio.ui.widgets.search_drop_zone import SearchDropZone

    zone = SearchDropZone()
    qtbot.addWidget(zone)
    zone.choose_image(_camera_photo(tmp_path, orientation))
    qtbot.waitUntil(lambda: zone.preview.pixmap() is not None and not zone.preview.pixmap().isNull(), timeout=10000)
    shown = zone.preview.pixmap().toImage()
    assert shown.width() > shown.height()  # landscape, as the camera held it
    top_left = shown.pixelColor(shown.width() // 4, shown.height() // 4)
    bottom_right = shown.pixelColor(3 * shown.width() // 4, 3 * shown.height() // 4)
    assert top_left.red() > 180 and top_left.blue() < 80
    assert bottom_right.blue() > 150 and bottom_right.red() < 80


@pytest.mark.parametrize("suffix", [".avif", ".heic"])
def test_the_example_preview_shows_avif_and_heic(qtbot, tmp_path: Path, suffix: str) -> None:
    from latentstudio.ui.widgets.search_drop_zone import SearchDropZone

    pytest.importorskip("pillow_heif")
    zone = SearchDropZone()
    qtbot.addWidget(zone)
    zone.choose_image(_camera_photo(tmp_path, 1, suffix))
    qtbot.waitUntil(lambda: zone.preview.pixmap() is not None and not zone.preview.pixmap().isNull(), timeout=10000)
    shown = zone.preview.pixmap().toImage()
    assert shown.pixelColor(shown.width() // 4, shown.height() // 4).red() > 180
    assert zone.label.text() == f"Like: photo-1{suffix}"


def test_a_folder_without_a_query_lists_its_pictures(qtbot, page: SearchPage) -> None:
    photos = Path(page.ctx.settings.library_folders[0])
    qtbot.waitUntil(lambda: page.filters.folder.count() > 1, timeout=10000)
    assert page.filters.min_score.text() == "no cut-off"  # at -1: every picture, whatever its score
    page.filters.folder.setCurrentIndex(page.filters.folder.findData(str(photos)))
    qtbot.waitUntil(lambda: page.results_model.rowCount() == 72, timeout=30000)
    assert "newest first" in page.summary.text()
    first = page.results_model.hits[0]
    assert "0.00" not in page.results_model.data(page.results_model.index(0))  # no score to show
    assert first.path.parent == photos
    page.filters.folder.setCurrentIndex(0)  # all folders, no query: nothing to list, the hint again
    qtbot.waitUntil(lambda: page.results_model.rowCount() == 0, timeout=10000)


def test_a_new_search_starts_at_the_top(qtbot, shapes) -> None:
    from latentstudio.ui.pages.search_page import SearchPage

    ctx, _ = shapes
    services = PageServices.create(ctx)
    page = SearchPage(services)
    qtbot.addWidget(page)
    page.resize(700, 400)
    page.filters.min_score.setValue(-1.0)
    page.show()
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)
    page.query.setText("a red circle")
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 8, timeout=30000)
    page.results.verticalScrollBar().setValue(page.results.verticalScrollBar().maximum())
    assert page.results.verticalScrollBar().value() > 0
    page.query.setText("a blue square")
    qtbot.waitUntil(lambda: "blue-square" in page.results_model.hits[0].path.name, timeout=30000)
    assert page.results.verticalScrollBar().value() == 0
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)
    services.bridge.detach()
