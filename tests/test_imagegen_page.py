"""The Image page with qtbot: generate from the form, the preview updates, Cancel works, settings reuse."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from latentstudio.context import AppContext
from latentstudio.engine import JobState, Priority
from latentstudio.ui.page_services import PageServices
from latentstudio.ui.pages.image_page import ImagePage
from latentstudio.imagegen.generate import JOB_KIND
from tests.support.held_engine import WINDOW_TIMEOUT_MS, hold_engine

TIMEOUT_MS = 240_000


@pytest.fixture
def page(tiny_image_model, open_image_page):
    return open_image_page()


def test_generate_from_the_form_updates_preview_and_gallery(qtbot, page: ImagePage) -> None:
    assert page.shows_tools  # the model is installed: the form, not the card
    assert page.settings.model.currentData() == "tiny"
    page.prompt.setPlainText("a red circle")
    page.negative.setPlainText("blue")
    page.settings.seed.setText("21")
    page.settings.steps.setValue(3)
    qtbot.mouseClick(page.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.gallery.list.count() == 1, timeout=TIMEOUT_MS)
    assert page.preview.updates >= 4  # three step previews, then the finished image
    assert page.preview.pixmap_source().width() == 64
    assert page.progress.value() == page.progress.maximum() == 3
    assert "Seed 21" in page.gallery.details.text() and "a red circle" in page.gallery.details.text()
    assert page.gallery.paths()[0].parent.parent == page.ctx.paths.outputs

    # Reuse settings from the result after changing the form; use it as the init image.
    page.prompt.setPlainText("something else")
    page.settings.steps.setValue(9)
    qtbot.mouseClick(page.gallery.buttons["reuse"], Qt.MouseButton.LeftButton)
    assert page.prompt.toPlainText() == "a red circle" and page.negative.toPlainText() == "blue"
    assert (page.settings.steps.value(), page.settings.seed.text()) == (3, "21")
    qtbot.mouseClick(page.gallery.buttons["init"], Qt.MouseButton.LeftButton)
    assert page.settings.init_image.text() == str(page.gallery.paths()[0])

    # The last Generate's settings come back in a new session; recent outputs fill the gallery.
    reopened = ImagePage(PageServices.create(page.ctx))
    qtbot.addWidget(reopened)
    assert reopened.prompt.toPlainText() == "a red circle" and reopened.negative.toPlainText() == "blue"
    assert (reopened.settings.steps.value(), reopened.settings.seed.text()) == (3, "21")
    assert reopened.settings.model.currentData() == "tiny"
    qtbot.waitUntil(lambda: reopened.gallery.list.count() == 1)


def test_cancel_stops_the_running_image(qtbot, page: ImagePage) -> None:
    page.prompt.setPlainText("slow")
    page.settings.steps.setValue(60)
    handles = page.generate()
    qtbot.waitUntil(lambda: page.progress.value() >= 1 and page.preview.updates >= 1, timeout=TIMEOUT_MS)
    assert page.cancel_button.isEnabled()
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: handles[0].state is JobState.CANCELLED, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: page.status.text().startswith("Cancelled"), timeout=TIMEOUT_MS)
    assert not page.cancel_button.isEnabled()
    assert page.gallery.list.count() == 0
    assert page.progress.value() < 60


def test_bad_settings_are_shown_not_raised(page: ImagePage) -> None:
    page.settings.width_box.setValue(72)
    page.settings.height_box.setValue(100)
    assert page.generate() == []
    assert "multiple of 8" in page.status.text()


def test_dropping_a_png_reads_its_settings(page: ImagePage, tmp_path: Path) -> None:
    info = PngInfo()
    info.add_text(
        "parameters",
        "a castle at dusk\nNegative prompt: fog\nSteps: 17, Sampler: Euler a, CFG scale: 4.5, Seed: 77, Size: 128x192",
    )
    path = tmp_path / "from-a1111.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(page, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(page, QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, buttons, modifiers))
    assert page.prompt.toPlainText() == "a castle at dusk" and page.negative.toPlainText() == "fog"
    settings = page.settings
    assert (settings.steps.value(), settings.guidance.value(), settings.seed.text()) == (17, 4.5, "77")
    assert (settings.width_box.value(), settings.height_box.value()) == (128, 192)
    assert settings.scheduler.currentText() == "Euler a"

    comfy = tmp_path / "comfy.png"
    graph = {"1": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 8, "cfg": 2, "sampler_name": "lcm",
                                                          "scheduler": "normal", "positive": ["2", 0]}},
             "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a fox"}}}
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))
    Image.new("RGB", (8, 8)).save(comfy, pnginfo=info)
    assert page.reuse_settings_from(comfy)
    assert (page.prompt.toPlainText(), settings.scheduler.currentText(), settings.steps.value()) == ("a fox", "LCM", 8)
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    assert not page.reuse_settings_from(plain)
    assert "no generation settings" in page.status.text()


def test_queue_list_reorders_and_cancels(qtbot, page: ImagePage) -> None:
    gate, running = threading.Event(), threading.Event()

    def block(job: object) -> None:
        running.set()
        gate.wait(60)

    blocker = page.ctx.engine.submit(block, priority=Priority.FOREGROUND, name="blocker", kind="other")
    assert running.wait(60)
    page.prompt.setPlainText("queued")
    page.settings.seed.setText("40")
    page.settings.steps.setValue(1)
    page.settings.count.setValue(3)
    first, second, third = page.generate()
    qtbot.waitUntil(lambda: page.queue.handles() == [first, second, third])
    page.queue.list.setCurrentRow(2)
    qtbot.mouseClick(page.queue.up, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.queue.handles() == [first, third, second])
    page.queue.list.setCurrentRow(0)
    qtbot.mouseClick(page.queue.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.queue.handles() == [third, second])
    gate.set()
    blocker.result(60)
    assert third.result(TIMEOUT_MS / 1000).seed == 42 and second.result(TIMEOUT_MS / 1000).seed == 41
    assert first.state is JobState.CANCELLED
    qtbot.waitUntil(lambda: page.gallery.list.count() == 2 and page.queue.handles() == [], timeout=TIMEOUT_MS)


def test_64_bit_seed_from_the_form_to_the_png_and_back(qtbot, page: ImagePage) -> None:
    from latentstudio.imagegen.metadata import read_reading

    page.prompt.setPlainText("a blue square")
    page.settings.seed.setText(str(2**64 - 1))
    page.settings.steps.setValue(1)
    (handle,) = page.generate()
    result = handle.result(TIMEOUT_MS / 1000)
    assert result.seed == 2**64 - 1
    reading = read_reading(result.path)
    assert reading.metadata is not None and reading.metadata.seed == 2**64 - 1
    assert f"Seed: {2**64 - 1}," in reading.fields["parameters"]  # the A1111 text other tools read
    page.settings.seed.clear()
    assert page.reuse_settings_from(result.path)
    assert page.settings.seed.text() == str(2**64 - 1)


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
    qtbot.waitUntil(lambda: page.progress.value() >= 2 and page.preview.updates >= 1, timeout=WINDOW_TIMEOUT_MS)
    page.cancel_current()
    qtbot.waitUntil(lambda: page.status.text().startswith("Cancelled"), timeout=WINDOW_TIMEOUT_MS)
    assert page.progress.text() == "0 / 60 steps"
    assert page.preview.pixmap_source().isNull() and "preview appears here" in page.preview.text()
    services.bridge.detach()


def test_the_image_queue_names_seed_size_and_steps(qtbot, ctx: AppContext, tiny_models) -> None:
    from latentstudio.imagegen import ImageRequest, submit_images

    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    release = hold_engine(ctx, JOB_KIND)
    try:
        [handle] = submit_images(ctx, ImageRequest("a red circle", seed=7, steps=12, width=64, height=64))
        assert "seed 7" in handle.name and "64×64" in handle.name and "12 steps" in handle.name
        handle.cancel()
    finally:
        release.set()


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
                     "Reuse settings", "Upscale…"]
    with qtbot.waitSignal(gallery.initRequested) as wanted:
        next(a for a in menu.actions() if a.text() == "Use as init image").trigger()
    assert wanted.args == [picture]
    gallery.open(tmp_path / "gone.png")  # a file that is no longer there: said in words
    assert "no longer there" in gallery.details.text()
