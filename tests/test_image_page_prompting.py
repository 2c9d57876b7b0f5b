"""The Image page's new controls with qtbot: CLIP scores in the gallery (sort, best of N), prompt help
streamed in and undone, describe / use as prompt (gallery and dropped files), the prompt strip."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Callable

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage
from PIL import Image

from latentstudio.context import AppContext
from latentstudio.engine import Priority
from latentstudio.library import add_folders, submit_index
from latentstudio.ui.page_services import PageServices
from latentstudio.ui.pages.image_page import ImagePage
from latentstudio.ui.widgets.image_gallery import ImageGallery
from tests.support import tiny_clip
from tests.support.held_model import held_at_second_token

TIMEOUT_MS = 240_000


@pytest.fixture
def page(qtbot, ctx: AppContext, tiny_models: Callable[[str], Path]):
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    services = PageServices.create(ctx)
    widget = ImagePage(services)
    qtbot.addWidget(widget)
    services.bridge.start_engine()
    widget.resize(1400, 900)
    widget.show()
    yield widget
    services.bridge.detach()


def test_gallery_sorts_by_clip_score(qtbot) -> None:
    gallery = ImageGallery()
    qtbot.addWidget(gallery)
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    for name, score in (("a.png", 0.2), ("b.png", None), ("c.png", 0.35), ("d.png", 0.1)):
        gallery.add_image(Path(name), image, name, score=score)
    assert [p.name for p in gallery.paths()] == ["d.png", "c.png", "b.png", "a.png"]  # newest first
    gallery.order.setCurrentIndex(gallery.order.findData("score"))
    assert [p.name for p in gallery.paths()] == ["c.png", "a.png", "d.png", "b.png"]
    assert "score 0.350" in gallery.list.item(0).text() and "guide, not a judge" in gallery.list.item(0).toolTip()
    gallery.order.setCurrentIndex(gallery.order.findData("newest"))
    assert [p.name for p in gallery.paths()] == ["d.png", "c.png", "b.png", "a.png"]
    gallery.show_best([Path("a.png"), Path("d.png")])
    assert gallery.current_path() == Path("a.png") and gallery.order.currentData() == "score"


def test_a_batch_is_ranked_best_first(qtbot, page: ImagePage) -> None:
    page.prompt.setPlainText("a blue square")
    page.settings.seed.setText("5")
    page.settings.steps.setValue(1)
    page.settings.count.setValue(3)
    page.generate()
    qtbot.waitUntil(lambda: "Best of 3" in page.status.text(), timeout=TIMEOUT_MS)
    scores = page.gallery.scores()
    assert len(scores) == 3 and all(s is not None for s in scores) and scores == sorted(scores, reverse=True)
    assert page.gallery.current_path() == page.gallery.paths()[0]
    assert "guide, not a judge" in page.status.text()
    page.grab().save("/tmp/image-page-best-of.png")


@pytest.fixture
def llm_page(page: ImagePage, tiny_models: Callable[[str], Path]) -> ImagePage:
    page.ctx.registry.import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
    return page


@pytest.mark.parametrize("name", ["translate", "expand"])
def test_prompt_help_streams_into_the_prompt_and_is_undone_in_one_step(qtbot, llm_page: ImagePage, name: str) -> None:
    page = llm_page
    page.prompt.setPlainText("un chat rouge")
    growth: list[str] = []
    page.prompt.textChanged.connect(lambda: growth.append(page.prompt.toPlainText()))
    qtbot.mouseClick(page.help_buttons[name], Qt.MouseButton.LeftButton)
    assert page.help_buttons[name].text() == "Stop"
    qtbot.waitUntil(lambda: page._helper is None, timeout=TIMEOUT_MS)
    assert len([g for g in growth if g]) > 3  # filled piece by piece
    assert page.prompt.toPlainText() == "Here is the function:"  # the reply's prompt line
    assert "Ctrl+Z" in page.status.text() and page.help_buttons[name].text() != "Stop"
    page.prompt.undo()
    assert page.prompt.toPlainText() == "un chat rouge"


def test_prompt_help_stop_keeps_the_prompt_usable(qtbot, llm_page: ImagePage) -> None:
    page = llm_page

    with held_at_second_token(page.ctx.engine) as release:
        page.prompt.setPlainText("a cat")
        page.prompt_help("expand")
        qtbot.waitUntil(lambda: page.prompt.toPlainText() != "a cat", timeout=TIMEOUT_MS)
        qtbot.mouseClick(page.help_buttons["expand"], Qt.MouseButton.LeftButton)  # "Stop"
        release.set()
        qtbot.waitUntil(lambda: page._helper is None, timeout=TIMEOUT_MS)
    assert "(stopped)" in page.status.text()
    page.prompt.undo()
    assert page.prompt.toPlainText() == "a cat"
    page.prompt.setPlainText(" ")
    page.prompt_help("translate")
    assert "prompt is empty" in page.status.text() and page._helper is None


def test_describe_a_gallery_picture_and_use_it_as_the_prompt(qtbot, page: ImagePage, tmp_path: Path) -> None:
    picture = tmp_path / "red-circle.png"
    tiny_clip.shape_image("red", "circle", random.Random(3), size=96).save(picture)
    page.gallery.add_image(picture, QImage(str(picture)), "a picture")
    qtbot.mouseClick(page.gallery.buttons["describe"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.use_description_button.isEnabled(), timeout=TIMEOUT_MS)
    described = page.description.prompt
    assert described and described in page.described.text()
    page.prompt.setPlainText("my words")
    qtbot.mouseClick(page.use_description_button, Qt.MouseButton.LeftButton)
    assert page.prompt.toPlainText() == described
    page.prompt.undo()
    assert page.prompt.toPlainText() == "my words"

    # A dropped picture without generation settings is described instead.
    dropped = tmp_path / "blue-square.png"
    tiny_clip.shape_image("blue", "square", random.Random(4), size=96).save(dropped)
    page.description = None
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(dropped))])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    page.dropEvent(event)
    qtbot.waitUntil(lambda: page.description is not None, timeout=TIMEOUT_MS)
    assert page.description.path == dropped and "no generation settings" in page.status.text()


def test_the_prompt_strip_follows_typing_debounced(qtbot, page: ImagePage, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = random.Random(8)
    for colour, shape in tiny_clip.classes():
        tiny_clip.shape_image(colour, shape, rng, size=96).save(photos / f"{colour}-{shape}.png")
    # A word match (the search returns it whatever its picture score) that is a 1×1 black tile.
    Image.new("RGB", (1, 1)).save(photos / "a yellow triangle.png")
    add_folders(page.ctx, [photos])
    page.ctx.library.scan()
    submit_index(page.ctx).result(TIMEOUT_MS / 1000)

    page.prompt.clear()
    qtbot.keyClicks(page.prompt, "a yellow triangle")
    assert page.strip.searches == 0  # every keystroke only restarted the timer
    qtbot.waitUntil(lambda: len(page.strip.paths()) == 8, timeout=TIMEOUT_MS)
    assert page.strip.searches == 1
    assert page.strip.paths()[0].name == "yellow-triangle.png"
    assert "a yellow triangle.png" not in [p.name for p in page.strip.paths()]  # no degenerate tile
    scores = [float(page.strip.list.item(i).text()) for i in range(page.strip.list.count())]
    assert scores == sorted(scores, reverse=True)  # best first

    first = page.strip.list.item(0)
    rect = page.strip.list.visualItemRect(first)
    qtbot.mouseClick(page.strip.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert page.settings.init_image.text() == str(photos / "yellow-triangle.png")
    page.grab().save("/tmp/image-page-strip.png")


def test_a_search_result_is_described_on_the_image_page(qtbot, ctx: AppContext, tiny_models, tmp_path: Path) -> None:
    from latentstudio.ui.main_window import MainWindow

    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    picture = tmp_path / "green-triangle.png"
    tiny_clip.shape_image("green", "triangle", random.Random(6), size=96).save(picture)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.services.requests.describePicture.emit(picture)  # what the Search page's menu sends
    page = window.show_page("image")
    qtbot.waitUntil(lambda: page.description is not None, timeout=TIMEOUT_MS)
    assert page.description.path == picture and page.use_description_button.isEnabled()


def test_a_cancelled_describe_says_it_stopped_not_that_it_failed(qtbot, page: ImagePage, tmp_path: Path) -> None:
    picture = tmp_path / "red-circle.png"
    tiny_clip.shape_image("red", "circle", random.Random(3), size=96).save(picture)
    release, started = threading.Event(), threading.Event()
    page.ctx.engine.submit(lambda job: (started.set(), release.wait(30)), Priority.FOREGROUND, name="busy",
                           kind="describe-blocker")
    assert started.wait(10)
    try:
        page.describe_picture(picture)  # waits behind the busy job
        page._describing.cancel()
        qtbot.waitUntil(lambda: page._describing is None, timeout=TIMEOUT_MS)
    finally:
        release.set()
    assert page.described.text() == "Describing stopped."
    assert not page.use_description_button.isEnabled()


def test_a_description_goes_away_when_closed_or_another_picture_is_chosen(qtbot, page: ImagePage, tmp_path: Path) -> None:
    pictures = []
    for k, (colour, shape) in enumerate((("red", "circle"), ("blue", "square"))):
        pictures.append(tmp_path / f"{colour}-{shape}.png")
        tiny_clip.shape_image(colour, shape, random.Random(k), size=96).save(pictures[-1])
        page.gallery.add_image(pictures[-1], QImage(str(pictures[-1])), "a picture")

    def describe() -> None:
        qtbot.mouseClick(page.gallery.buttons["describe"], Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.use_description_button.isEnabled(), timeout=TIMEOUT_MS)
        assert page.described.isVisible() and page.close_description_button.isVisible()

    describe()
    qtbot.mouseClick(page.close_description_button, Qt.MouseButton.LeftButton)
    assert not page.described.isVisible() and not page.use_description_button.isVisible()
    assert page.description is None
    describe()  # the blue square, the newest
    page.gallery.list.setCurrentRow(1)  # the red circle: the square's description goes
    assert not page.described.isVisible() and page.description is None
    describe()
    page.prompt.setPlainText("a red circle")
    page.generate()  # a new prompt runs: the description has served
    assert not page.described.isVisible() and page.description is None


def test_the_gallery_size_slider_is_labelled(qtbot) -> None:
    from PySide6.QtWidgets import QLabel

    gallery = ImageGallery()
    qtbot.addWidget(gallery)
    labels = [label for label in gallery.findChildren(QLabel) if label.buddy() is gallery.thumb_size]
    assert [label.text() for label in labels] == ["Size"]
    assert gallery.thumb_size.accessibleName() == "Thumbnail size"
