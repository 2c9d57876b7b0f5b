"""qtbot: the Map page renders and selects, the Duplicates page reviews and trashes, tags show on
search results with confirm and reject."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentstudio.library import add_folders, submit_index
from latentstudio.library.analysis import service
from latentstudio.library.store import analysis_tables as tables
from latentstudio.ui.page_services import PageServices
from latentstudio.ui.pages.duplicates_page import DuplicatesPage
from latentstudio.ui.pages.map_page import MapPage
from tests.support import tiny_clip
from tests.test_analysis_duplicates import trash_home  # noqa: F401  (fixture)

SCREENSHOTS = Path("/tmp")


@pytest.fixture
def library(ctx, tiny_models, tmp_path: Path):
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = random.Random(4)
    for colour, shape in tiny_clip.classes():
        for k in range(4):
            tiny_clip.shape_image(colour, shape, rng, size=96).save(photos / f"{colour}-{shape}-{k}.jpg")
    Image.open(photos / "red-circle-0.jpg").resize((60, 60)).save(photos / "red-circle-0-small.png")
    shutil.copy(photos / "blue-square-1.jpg", photos / "blue-square-1 copy.jpg")
    add_folders(ctx, [photos])
    ctx.library.scan()
    submit_index(ctx).result(120)
    return ctx, photos


def test_map_page_renders_colours_hovers_and_lasso_selects(qtbot, library) -> None:
    ctx, photos = library
    service.add_tags(ctx, list(tiny_clip.COLOURS), group="colour")
    service.submit_tag_update(ctx).result(120)
    page = MapPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    page.refresh()
    qtbot.waitUntil(lambda: page.points is not None, timeout=60000)
    assert len(page.canvas.xy) == 50 and np.isfinite(page.canvas.xy).all()
    assert "50 pictures" in page.status.text()
    assert (page.canvas.categories >= 0).all()  # every point has a theme
    page.colour_by.setCurrentIndex(1)  # by tag
    assert "red" in page.legend.text()
    image = page.canvas.render_points()
    assert image.width() == page.canvas.width()
    # Hover the first point: its picture shows.
    x, y = page.canvas.to_screen(page.canvas.xy[[0]])[0]
    from PySide6.QtCore import QPointF

    assert page.canvas.row_at(QPointF(x, y)) >= 0
    page._hover(0)
    assert not page.preview.pixmap().isNull()
    assert page.preview_name.text() == Path(page.points.rows[0].path).name  # the picture's name with it
    # Zoomed out, dots in their colours, however few the pictures; thumbnails only zoomed in.
    assert len(page.canvas.visible_rows()) <= 120 and not page.canvas.shows_thumbnails()
    # Lasso the whole canvas: every picture shows as a result.
    w, h = page.canvas.width(), page.canvas.height()
    page.grab().save(str(SCREENSHOTS / "latent-map-page.png"))
    # Zoomed in on one point, the pictures themselves are drawn (loaded in the background).
    page.canvas.centre = page.canvas.xy[0].astype(float)
    page.canvas.zoom = 40.0
    assert 0 < len(page.canvas.visible_rows()) <= 120 and page.canvas.shows_thumbnails()
    page.canvas.repaint()
    qtbot.waitUntil(lambda: page._thumbnail(int(page.canvas.visible_rows()[0])) is not None, timeout=10000)
    page.canvas.repaint()
    page.grab().save(str(SCREENSHOTS / "latent-map-zoomed.png"))
    page.canvas.reset_view()
    page.canvas.select_polygon(np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float))
    assert page.results_model.rowCount() == 50 and "50 pictures selected" in page.status.text()
    # The selection's thumbnails show whole: at least one full row of the grid fits in the view.
    assert page.results.viewport().height() >= page.results.gridSize().height()
    assert any("red" in hit.tags for hit in page.results_model.hits)


def test_map_follows_indexing_and_tagging_and_says_one_thing_at_a_time(qtbot, ctx, tiny_models, tmp_path) -> None:
    """An empty library says "nothing yet" (never "Drawing…" as well, once drawn); pictures indexed
    later appear without Refresh; tags added later reach the legend."""
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    page = MapPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()  # the first view draws the (empty) map
    assert "Drawing" in page.status.text() and "Drawing" in page.canvas.placeholder
    qtbot.waitUntil(lambda: page.points is not None, timeout=60000)
    assert "Drawing" not in page.canvas.placeholder and "No pictures" in page.canvas.placeholder
    assert "Drawing" not in page.status.text()
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = random.Random(9)
    for colour, shape in tiny_clip.classes():
        tiny_clip.shape_image(colour, shape, rng, size=96).save(photos / f"{colour}-{shape}.jpg")
    add_folders(ctx, [photos])
    ctx.library.scan()
    submit_index(ctx).result(120)  # as the library controller does after a scan: no Refresh pressed
    qtbot.waitUntil(lambda: page.points is not None and len(page.points.rows) == 12, timeout=60000)
    assert len(page.canvas.xy) == 12 and "12 pictures" in page.status.text()
    page.colour_by.setCurrentIndex(1)  # by tag
    assert "No tags yet" in page.legend.text()
    service.add_tags(ctx, list(tiny_clip.COLOURS), group="colour")
    service.submit_tag_update(ctx).result(120)
    qtbot.waitUntil(lambda: "red" in page.legend.text(), timeout=60000)
    qtbot.waitUntil(lambda: page.refresh_button.isEnabled(), timeout=60000)


def test_duplicates_page_reviews_and_trashes_into_the_trash(qtbot, library, trash_home, monkeypatch) -> None:
    ctx, photos = library
    page = DuplicatesPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    page.find()  # exact copies first
    qtbot.waitUntil(lambda: page.find_button.isEnabled(), timeout=60000)
    assert page.group_list.count() == 1 and "1 group of" in page.status.text()
    assert len(page.checks) == 2 and len(page.ticked()) == 1  # the best to keep is not ticked
    page.level.setCurrentIndex(1)  # near-duplicates
    page.find()
    qtbot.waitUntil(lambda: page.find_button.isEnabled(), timeout=60000)
    names = [{Path(m.row.path).name for m in g.members} for g in page.groups]
    assert {"red-circle-0.jpg", "red-circle-0-small.png"} in names
    page.group_list.setCurrentRow(names.index({"red-circle-0.jpg", "red-circle-0-small.png"}))
    assert page.ticked() == [str(photos / "red-circle-0-small.png")]  # the larger one is kept
    page.grab().save(str(SCREENSHOTS / "latent-duplicates-page.png"))
    said = []  # every status: a library refresh after the move may replace "Moved …" before a poll sees it
    show = page.status.setText
    monkeypatch.setattr(page.status, "setText", lambda text: (said.append(text), show(text)))
    page.trash_ticked(confirm=False)
    assert not page.trash_button.isEnabled() and "Moving 1" in page.status.text()  # off the GUI thread
    qtbot.waitUntil(lambda: any("Moved" in text for text in said), timeout=30000)
    assert not (photos / "red-circle-0-small.png").exists()
    assert (trash_home / "Trash" / "files" / "red-circle-0-small.png").is_file()
    assert (photos / "red-circle-0.jpg").exists() and any("Moved 1 picture" in text for text in said)
    # Ticking every picture of a group is refused: one always stays.
    if page.checks:
        for check, _ in page.checks:
            check.setChecked(True)
        assert not page.trash_button.isEnabled()


def test_similar_series_tick_nothing_and_the_confirmation_names_the_files(qtbot, library, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    ctx, photos = library
    page = DuplicatesPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    page.level.setCurrentIndex(2)  # similar series: different pictures of one scene
    page.find()
    qtbot.waitUntil(lambda: page.find_button.isEnabled(), timeout=60000)
    assert page.groups and "nothing is ticked" in page.status.text()
    for row in range(len(page.groups)):
        page.group_list.setCurrentRow(row)
        assert page.ticked() == [] and not page.trash_button.isEnabled()
    # Ticked by hand, the question names the files before anything moves; No moves nothing.
    for check, _ in page.checks[:-1]:
        check.setChecked(True)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text: asked.append(text) or QMessageBox.StandardButton.No)
    ticked = page.ticked()
    page.trash_ticked()
    assert len(asked) == 1 and f"Move {len(ticked)} picture(s)" in asked[0]
    assert all(Path(p).name in asked[0] for p in ticked[:5])
    assert all(Path(p).exists() for p in ticked)
    if len(ticked) > 5:
        assert f"and {len(ticked) - 5} more" in asked[0]


def test_the_trash_confirmation_names_the_first_files_and_counts_the_rest() -> None:
    from latentstudio.ui.pages.duplicates_page import confirm_text

    text = confirm_text([f"/photos/IMG_{i:04d}.jpg" for i in range(8)])
    assert "Move 8 picture(s)" in text and "IMG_0000.jpg" in text and "IMG_0004.jpg" in text
    assert "IMG_0005.jpg" not in text and "and 3 more" in text


def test_search_results_show_tags_and_a_rejection_sticks(qtbot, library) -> None:
    from latentstudio.ui.pages.search_page import SearchPage
    from latentstudio.ui.widgets.search_results import label

    ctx, photos = library
    service.add_tags(ctx, list(tiny_clip.COLOURS), group="colour")
    service.submit_tag_update(ctx).result(120)
    page = SearchPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.filters.min_score.setValue(-1.0)
    page.show()
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)
    qtbot.keyClicks(page.query, "a red circle")
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=30000)
    hit = page.results_model.hits[0]
    assert "red" in hit.tags and "#red" in label(hit)
    page.mark_tag(hit, "red", tables.REJECTED)
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0 and "red" not in next(
        (h.tags for h in page.results_model.hits if h.path == hit.path), ("red",)), timeout=30000)
    store = ctx.library.store
    assert tables.marks(store)[(tables.tag_by_label(store, "red").id, hit.image_id)] == tables.REJECTED
    page.grab().save(str(SCREENSHOTS / "latent-search-tags.png"))
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)


def test_tag_panel_adds_filters_and_removes_tags(qtbot, library, monkeypatch) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    from latentstudio.ui.pages.search_page import SearchPage

    ctx, photos = library
    page = SearchPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)
    panel = page.tag_panel
    for colour in ("red", "blue"):
        panel.new_tag.setText(colour)
        panel.group.setText("colour")
        qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.list.count() == 2 and "(0)" not in panel.list.item(0).text()
                    and "(0)" not in panel.list.item(1).text(), timeout=60000)
    assert "· colour" in panel.list.item(0).text()
    # Ticking "red" alone lists every red-tagged picture, no words needed.
    red = next(panel.list.item(i) for i in range(2) if panel.list.item(i).text().startswith("red"))
    red.setCheckState(Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=30000)
    store = ctx.library.store
    tagged = {i for i, _ in tables.tagged_images(store, tables.tag_by_label(store, "red").id)}
    assert {h.image_id for h in page.results_model.hits} == tagged
    assert all(Path(h.path).name.startswith("red") for h in page.results_model.hits[:5])
    page.grab().save(str(SCREENSHOTS / "latent-tag-panel.png"))
    # Adding a tag that exists says so in the window; removing one drops it from the list.
    panel.new_tag.setText("red")
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "already a tag" in page.summary.text(), timeout=10000)
    # Remove asks first, naming the tag and how many pictures carry it; No keeps it.
    panel.list.setCurrentItem(red)
    asked, answer = [], [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text: asked.append(text) or answer[0])
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 1 and "“red”" in asked[0] and f"{len(tagged)} picture" in asked[0]
    assert panel.list.count() == 2 and len(tables.tags(store)) == 2
    answer[0] = QMessageBox.StandardButton.Yes
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.list.count() == 1, timeout=10000)
    assert [t.label for t in tables.tags(store)] == ["blue"]
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)


def test_a_results_tags_menu_adds_a_new_tag_to_the_picture(qtbot, library, monkeypatch) -> None:
    """Right-click a result, Tags, "Add tag…": a new word becomes a tag confirmed on the picture."""
    from PySide6.QtWidgets import QInputDialog, QMenu

    from latentstudio.ui.pages.search_page import SearchPage

    ctx, photos = library
    page = SearchPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.filters.min_score.setValue(-1.0)
    page.show()
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)
    qtbot.keyClicks(page.query, "a red circle")
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=30000)
    hit = page.results_model.hits[0]
    menu = QMenu()
    page._tag_menu(menu, hit)  # no tags yet: adding one is still offered
    add = next(a for a in menu.actions() if a.text() == "Add tag…")
    monkeypatch.setattr(QInputDialog, "getItem", lambda *args: ("my  favourite", True))
    said = []  # every summary: the re-search after re-tagging may replace "Tagged …" before a poll sees it
    show = page.summary.setText
    monkeypatch.setattr(page.summary, "setText", lambda text: (said.append(text), show(text)))
    add.trigger()
    store = ctx.library.store
    qtbot.waitUntil(lambda: any(t.label == "my favourite" for t in tables.tags(store)), timeout=30000)
    tag = tables.tag_by_label(store, "my favourite")
    qtbot.waitUntil(lambda: (tag.id, hit.image_id) in tables.marks(store), timeout=30000)
    assert tables.marks(store)[(tag.id, hit.image_id)] == tables.CONFIRMED
    qtbot.waitUntil(lambda: any("my favourite" in text for text in said), timeout=30000)
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)
