"""What a new user tripped over, each checked the way they met it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from latentstudio.context import AppContext
from latentstudio.engine import Priority
from latentstudio.imagegen.generate import JOB_KIND
from latentstudio.ui.main_window import MainWindow
from latentstudio.ui.page_services import PageServices
from latentstudio.ui.pages.code_page import CodePage
from latentstudio.ui.pages.image_page import ImagePage
from latentstudio.ui.pages.settings_page import SettingsPage

TIMEOUT_MS = 120_000


def _hold_engine(ctx: AppContext, kind: str) -> threading.Event:
    """A running job of `kind` that waits until the returned event is set (so others queue)."""
    release, started = threading.Event(), threading.Event()

    def hold(job) -> None:
        started.set()
        release.wait(30)

    ctx.engine.submit(hold, Priority.FOREGROUND, name="busy", kind=kind)
    assert started.wait(10)
    return release


def test_stop_on_a_waiting_code_generation_ends_in_a_stopped_state(qtbot, ctx: AppContext, tiny_models) -> None:
    ctx.registry.import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
    services = PageServices.create(ctx)
    page = CodePage(services)
    qtbot.addWidget(page)
    services.bridge.start_engine()
    release = _hold_engine(ctx, "codegen")  # same kind: the new request waits its turn
    try:
        page.prompt.setPlainText("add two numbers")
        page.generate()
        assert page.status.text() == "Queued…"
        page.stop()
        qtbot.waitUntil(lambda: page.status.text() != "Stopping…", timeout=5000)
    finally:
        release.set()
    assert page.status.text() == "Stopped before it began"
    assert page.generate_button.isEnabled() and not page.stop_button.isEnabled()
    services.bridge.detach()


def test_cancel_on_an_image_clears_its_steps_and_preview(qtbot, ctx: AppContext, tiny_models) -> None:
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    services = PageServices.create(ctx)
    page = ImagePage(services)
    qtbot.addWidget(page)
    services.bridge.start_engine()
    page.settings.steps.setValue(60)
    assert page.progress.text() == "0 / 60 steps"  # what the form asks for, before anything runs
    page.prompt.setPlainText("a red circle")
    page.generate()
    qtbot.waitUntil(lambda: page.progress.value() >= 2 and page.preview.updates >= 1, timeout=TIMEOUT_MS)
    page.cancel_current()
    qtbot.waitUntil(lambda: page.status.text().startswith("Cancelled"), timeout=TIMEOUT_MS)
    assert page.progress.text() == "0 / 60 steps"
    assert page.preview.pixmap_source().isNull() and "preview appears here" in page.preview.text()
    services.bridge.detach()


def test_a_card_says_what_an_import_brought(qtbot, ctx: AppContext, tiny_models) -> None:
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    image_page = window.show_page("image")
    with qtbot.waitSignal(window.model_actions.importFinished, timeout=TIMEOUT_MS):
        window.model_actions.import_path(tiny_models("clip-shapes"), "clip")
    assert "Importing" not in image_page.card.message.text()
    assert "clip-shapes" in image_page.card.message.text() and "still needs" in image_page.card.message.text()


def test_offline_set_by_the_environment_shows_in_settings(qtbot, ctx: AppContext, monkeypatch) -> None:
    from latentstudio.models import network

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(network, "_set_by_us", False)
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    assert page.offline.isChecked() and not page.offline.isEnabled()
    assert "HF_HUB_OFFLINE" in page.offline.toolTip()
    assert page.min_score.value() == pytest.approx(ctx.settings.search_min_score)


def test_settings_save_the_theme_and_minimum_score(qtbot, ctx: AppContext) -> None:
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    page.theme.setCurrentIndex(page.theme.findData("dark"))
    page.min_score.setValue(0.27)
    page.save()
    reopened = AppContext(ctx.paths)
    try:
        assert reopened.settings.theme == "dark" and reopened.settings.search_min_score == pytest.approx(0.27)
    finally:
        reopened.close()


def test_window_size_and_splitters_are_remembered(qtbot, ctx: AppContext) -> None:
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    window.resize(1111, 733)
    from PySide6.QtWidgets import QSplitter

    splitter = window.show_page("models").findChild(QSplitter)
    splitter.setSizes([150, 400])
    sizes = splitter.sizes()
    geometry = window.saveGeometry()
    window.close()
    again = MainWindow(ctx)
    qtbot.addWidget(again)
    again.show()
    # (The offscreen screen is smaller than the window, so Qt may shrink a restored geometry to fit.)
    assert again._state.value("geometry") == geometry
    assert again.show_page("models").findChild(QSplitter).sizes() == sizes


def test_an_imported_diffusers_folder_is_named_after_its_model(ctx: AppContext, tiny_models, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "my-sd-turbo" / "diffusers"
    shutil.copytree(tiny_models("diffusion-tiny") / "diffusers", folder)
    model = ctx.registry.import_path(folder, kind="diffusion")
    assert model.id == "my-sd-turbo"


def test_the_image_queue_names_seed_size_and_steps(qtbot, ctx: AppContext, tiny_models) -> None:
    from latentstudio.imagegen import ImageRequest, submit_images

    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    release = _hold_engine(ctx, JOB_KIND)
    try:
        [handle] = submit_images(ctx, ImageRequest("a red circle", seed=7, steps=12, width=64, height=64))
        assert "seed 7" in handle.name and "64×64" in handle.name and "12 steps" in handle.name
        handle.cancel()
    finally:
        release.set()


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


def test_waiting_jobs_look_waiting_and_finished_ones_can_be_cleared(qtbot, ctx: AppContext) -> None:
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.attach_engine()
    release = _hold_engine(ctx, "image")
    try:
        waiting = ctx.engine.submit(lambda job: None, Priority.FOREGROUND, name="a long waiting job " * 6,
                                    kind="image")
        qtbot.waitUntil(lambda: window.jobs_panel.row_for(waiting) is not None, timeout=5000)
        row = window.jobs_panel.row_for(waiting)
        assert row.bar.value() == 0 and row.bar.maximum() == 1 and row.bar.text() == "waiting"
        assert row.title.wordWrap()
    finally:
        release.set()
    waiting.result(10)
    qtbot.waitUntil(lambda: "Idle" == window.queue_label.text(), timeout=5000)
    window.jobs_panel.clear_button.click()
    assert window.jobs_panel.rows == {}
    assert not window.jobs_panel.empty.isHidden()


def test_ctrl_f_goes_to_the_search_box(qtbot, ctx: AppContext, tiny_models) -> None:
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    window.show_page("settings")
    qtbot.waitExposed(window)
    from PySide6.QtGui import QAction, QKeySequence

    [find] = [a for a in window.findChildren(QAction) if a.shortcut() == QKeySequence(QKeySequence.StandardKey.Find)]
    window.activateWindow()
    find.trigger()  # what Ctrl+F does (offscreen windows get no key focus of their own)
    search = window.page("search")
    assert window.stack.currentWidget() is window._slots["search"]
    from PySide6.QtWidgets import QApplication

    qtbot.waitUntil(lambda: QApplication.focusWidget() is search.query, timeout=2000)


def test_gallery_items_have_the_actions_of_a_creative_tool(qtbot, tmp_path: Path) -> None:
    from PySide6.QtGui import QImage

    from latentstudio.ui.widgets.image_gallery import ImageGallery, thumbnail_for

    picture = tmp_path / "00001-7-red.png"
    image = QImage(16, 16, QImage.Format.Format_RGB32)
    image.fill(0xFF0000)
    image.save(str(picture))
    gallery = ImageGallery()
    qtbot.addWidget(gallery)
    gallery.add_image(picture, thumbnail_for(picture), "a red square")
    menu = gallery.context_menu_for(picture)
    names = [a.text() for a in menu.actions() if a.text()]
    assert names == ["Open", "Reveal file", "Copy path", "Copy image", "More like this", "Use as init image",
                     "Reuse settings"]
    with qtbot.waitSignal(gallery.initRequested) as wanted:
        next(a for a in menu.actions() if a.text() == "Use as init image").trigger()
    assert wanted.args == [picture]
    gallery.open(tmp_path / "gone.png")  # a file that is no longer there: said in words
    assert "no longer there" in gallery.details.text()


def test_the_dark_theme_darkens_the_window_and_system_restores_it(qtbot) -> None:
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from latentstudio.ui.theme import apply_theme

    try:
        apply_theme("dark")
        assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 80
        apply_theme("light")
        assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 180
    finally:
        apply_theme("system")
