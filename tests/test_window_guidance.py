"""The window explains itself: every control has a tooltip, every empty list says what to do next,
the rail navigates, side sections fold and stay folded, and the results grid fills its width."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QStyle,
    QWidget,
)

from latentstudio.context import AppContext
from latentstudio.ui.main_window import PAGES, MainWindow
from latentstudio.ui.widgets.side_section import SideSection
from tests.test_layout import install_models

CONTROLS = (QAbstractButton, QComboBox, QLineEdit, QAbstractSpinBox, QAbstractSlider)


def _controls(page: QWidget) -> list[QWidget]:
    found = []
    for widget in page.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or isinstance(widget, QScrollBar) or not widget.isVisibleTo(page):
            continue
        if isinstance(widget, QLineEdit) and isinstance(widget.parent(), (QComboBox, QAbstractSpinBox)):
            continue  # the editor inside a combo or spin box: the box carries the tooltip
        if type(widget).__module__.startswith(("PySide6", "latentstudio")):
            found.append(widget)
    return found


def _name(widget: QWidget) -> str:
    text = widget.text() if isinstance(widget, (QAbstractButton, QLineEdit)) else ""
    return f"{type(widget).__name__} {widget.objectName()!r} {text!r}"


@pytest.fixture
def window(qtbot, ctx: AppContext, tiny_models) -> MainWindow:
    install_models(ctx, tiny_models)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    window.show()
    return window


def test_every_control_on_every_page_has_a_tooltip(qtbot, window: MainWindow) -> None:
    missing = []
    for spec in PAGES:
        page = window.show_page(spec.name)
        qtbot.wait(50)
        controls = _controls(page)
        assert controls, f"{spec.name}: no controls found"
        missing += [f"{spec.name}: {_name(w)}" for w in controls if not w.toolTip().strip()]
    for index in range(window.nav.count()):
        if not window.nav.button(index).toolTip():
            missing.append(f"rail button {index}")
    assert not missing, "\n".join(missing)


def test_every_empty_list_and_answer_says_what_to_do_next(qtbot, window: MainWindow) -> None:
    silent = []
    for spec in PAGES:
        page = window.show_page(spec.name)
        qtbot.wait(50)
        for widget in page.findChildren(QWidget):
            if not widget.isVisibleTo(page) or isinstance(widget, QHeaderView):
                continue
            if isinstance(widget, QAbstractItemView) and widget.model() is not None and widget.model().rowCount() == 0:
                if not getattr(widget, "placeholderText", lambda: "")():
                    silent.append(f"{spec.name}: list {widget.objectName()!r}")
            if isinstance(widget, QPlainTextEdit) and not widget.toPlainText() and not widget.placeholderText():
                silent.append(f"{spec.name}: text {widget.objectName()!r}")
    assert not silent, "\n".join(silent)
    duplicates = window.show_page("duplicates")
    hint = duplicates.findChild(QWidget, "duplicates-empty")
    assert hint is not None and hint.isVisible() and "Pick a group" in hint.text()


def test_the_empty_results_grid_leads_from_adding_a_folder_to_searching(qtbot, window: MainWindow,
                                                                           tmp_path: Path) -> None:
    from tests.support.shape_pictures import write_shapes

    page = window.show_page("search")
    assert "Add a folder" in page.results.placeholderText()
    photos = write_shapes(tmp_path / "photos", per_class=1, seed=3, size=48)
    page.add_folder(photos)
    pictures = len(list(photos.iterdir()))
    # (The folder is added while the start-up scan runs: the page scans again for it.)
    qtbot.waitUntil(lambda: f"search {pictures} pictures" in page.results.placeholderText(), timeout=30000)
    page.filters.min_score.setValue(0.99)
    page.query.setText("a purple hexagon with stripes")
    qtbot.waitUntil(lambda: "No pictures match" in page.results.placeholderText(), timeout=60000)
    assert page.results_model.rowCount() == 0
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)


def test_the_rail_shows_the_page_of_the_button_pressed(qtbot, window: MainWindow) -> None:
    assert window.nav.count() == len(PAGES)
    for index, spec in enumerate(PAGES):
        window.nav.button(index).click()
        assert window.stack.currentIndex() == index
        assert window.pages[spec.name].isVisible()
        assert window.nav.current_index() == index
    window.show_page("search")
    assert window.nav.button(0).isChecked() and not window.nav.button(len(PAGES) - 1).isChecked()


def test_a_folded_side_section_stays_folded_after_a_restart(qtbot, ctx: AppContext) -> None:
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    sections = {s.objectName(): s for s in window.show_page("search").findChildren(SideSection)}
    assert set(sections) == {"section-filters", "section-tags", "section-folders"}
    assert all(s.isExpanded() for s in sections.values())
    sections["section-tags"].collapse()
    window.close()
    again = MainWindow(ctx)
    qtbot.addWidget(again)
    again.show()
    reopened = {s.objectName(): s.isExpanded() for s in again.show_page("search").findChildren(SideSection)}
    assert reopened == {"section-filters": True, "section-tags": False, "section-folders": True}


def test_hidden_side_panels_stay_hidden_after_a_restart(qtbot, ctx: AppContext, tiny_models) -> None:
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    image = window.show_page("image")
    assert image.gallery.isVisible()
    image.gallery_toggle.click()
    assert not image.gallery.isVisible()
    window.show_page("search").side_toggle.click()
    window.close()
    again = MainWindow(ctx)
    qtbot.addWidget(again)
    again.show()
    image = again.show_page("image")
    assert not image.gallery_toggle.isChecked() and not image.gallery.isVisible()
    search = again.show_page("search")
    assert not search.side_toggle.isChecked() and not search.side_panel.isVisible()
    image = again.show_page("image")
    image.gallery_toggle.click()
    assert image.gallery.isVisible()


def _results_grid():
    from latentstudio.ui.widgets.search_results import SearchResultsView

    view = SearchResultsView()
    return view, view, view.set_thumbnail_size


def _gallery_grid():
    from latentstudio.ui.widgets.image_gallery import ImageGallery

    gallery = ImageGallery()
    return gallery, gallery.list, gallery.thumb_size.setValue


@pytest.mark.parametrize("make", [_results_grid, _gallery_grid], ids=["search-results", "image-gallery"])
@pytest.mark.parametrize("width", [300, 1000, 1333])
def test_thumbnail_grids_fill_their_width_at_every_size(qtbot, make, width: int) -> None:
    widget, view, set_size = make()
    qtbot.addWidget(widget)
    widget.resize(width, 500)
    widget.show()
    for size in (64, 100, 128):
        set_size(size)
        cell = view.gridSize().width()
        columns = view.viewport().width() // cell
        assert view.iconSize().width() == size
        assert cell >= size + 24  # a thumbnail and its margin fit in a cell
        # What is left over is the scroll bar's reserve and rounding, never a column's worth.
        reserve = view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent) + 4 + columns
        assert 0 <= view.viewport().width() - columns * cell <= reserve


def test_the_edit_menu_works_on_the_focused_text_box_and_about_names_the_icons(qtbot, window: MainWindow) -> None:
    from PySide6.QtWidgets import QApplication

    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert list(menus) == ["File", "Edit", "View", "Help"]
    edit = {a.text().replace("&", ""): a for a in menus["Edit"].actions() if a.text()}
    page = window.show_page("search")
    page.query.setText("a red circle")
    page.query.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is page.query)
    edit["Select all"].trigger()
    assert page.query.selectedText() == "a red circle"
    edit["Copy"].trigger()
    assert QApplication.clipboard().text() == "a red circle"
    page.filters.negative.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is page.filters.negative)
    edit["Paste"].trigger()
    assert page.filters.negative.text() == "a red circle"
    edit["Undo"].trigger()
    assert page.filters.negative.text() == ""
    edit["Settings…"].trigger()
    assert window.stack.currentIndex() == [s.name for s in PAGES].index("settings")
    assert "Phosphor" in window.about_text() and "MIT" in window.about_text()


def test_the_map_and_the_rail_icons_follow_the_theme(qtbot, ctx: AppContext) -> None:
    from PySide6.QtGui import QIcon, QPalette
    from PySide6.QtWidgets import QApplication

    from latentstudio.ui.theme import apply_theme
    from latentstudio.ui.widgets.map_canvas import MapCanvas

    canvas = MapCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(80, 60)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    icon = window.nav.button(1).icon()

    def ink(mode: QIcon.Mode = QIcon.Mode.Normal) -> int:  # the icon's lightest opaque pixel
        image = icon.pixmap(24, 24, mode).toImage()
        values = [image.pixelColor(x, y) for x in range(24) for y in range(24)]
        return max((c.lightness() for c in values if c.alpha() > 200), default=-1)

    try:
        apply_theme("dark")
        qtbot.wait(20)
        assert canvas.render_points().pixelColor(5, 5).lightness() < 80
        icon = window.nav.button(1).icon()
        assert ink() > 180, "rail icons are drawn light on the dark theme"
        apply_theme("light")
        qtbot.wait(20)
        assert canvas.render_points().pixelColor(5, 5).lightness() > 180
        icon = window.nav.button(1).icon()
        assert 0 <= ink() < 120, "rail icons are drawn dark on the light theme"
        assert 0 <= ink(QIcon.Mode.Active) < 120, "under the pointer too (a light hover background)"
        assert ink(QIcon.Mode.Selected) > 180, "on the highlight, in its text colour"
        assert QApplication.palette().color(QPalette.ColorRole.Base).lightness() > 180
    finally:
        apply_theme("system")


def test_an_icon_copied_and_changed_by_qt_keeps_its_glyph(qtbot) -> None:
    """Qt detaches a shared icon before changing it, which clones its engine: a Python-made icon
    engine crashed the process there (a segmentation fault)."""
    from PySide6.QtGui import QIcon, QPixmap
    from PySide6.QtWidgets import QPushButton

    from latentstudio.ui.icons import icon

    button = QPushButton("Search")
    qtbot.addWidget(button)
    button.setIcon(icon("search"))
    copy = QIcon(button.icon())
    copy.addPixmap(QPixmap(4, 4))  # detaches the copy from the button's icon
    image = copy.pixmap(24, 24).toImage()
    assert sum(image.pixelColor(x, y).alpha() > 200 for x in range(24) for y in range(24)) > 20
    original = button.icon().pixmap(24, 24).toImage()
    assert original == image


def test_a_late_timer_after_close_starts_no_new_work(qtbot, ctx: AppContext, tiny_models) -> None:
    """A typing pause that ends as the window closes must not start a new inference thread (which
    would outlive the window) nor reopen the library."""
    import threading

    from latentstudio.context import ContextClosed
    from latentstudio.ui.bridge import EventBridge
    from latentstudio.ui.widgets.prompt_strip import PromptStrip

    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    assert ctx.engine.running
    strip = PromptStrip(ctx, EventBridge(ctx))
    qtbot.addWidget(strip)
    ctx.close()
    with pytest.raises(ContextClosed):
        ctx.engine
    with pytest.raises(ContextClosed):
        ctx.library
    with pytest.raises(ContextClosed):
        ctx.downloads
    with pytest.raises(ContextClosed):
        ctx.library_controller
    strip.text_changed("a red circle on grass")
    strip._search()  # the timer's shot, now: no exception escapes into the event loop
    assert strip.searches == 0
    assert not [t for t in threading.enumerate() if t.name == "latent-inference" and t.is_alive()]


def test_the_first_window_fits_the_screen(qtbot, ctx: AppContext) -> None:
    from latentstudio.ui.main_window import DEFAULT_SIZE

    window = MainWindow(ctx)
    qtbot.addWidget(window)
    room = window.screen().availableGeometry()
    assert window.width() == min(DEFAULT_SIZE[0], room.width() - 16)
    assert window.height() == min(DEFAULT_SIZE[1], room.height() - 40)
