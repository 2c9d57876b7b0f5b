"""The mask painter: a brush over the init image (size, `[`/`]`, eraser, clear, invert, feather),
the canvas's edges dragged out for outpainting, and the mask saved at the picture's own size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt

from latentstudio.ui.widgets.mask_painter import MaskDialog


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    path = tmp_path / "harbour.png"
    Image.new("RGB", (200, 100), (40, 90, 160)).save(path)
    return path


def _widget_point(dialog: MaskDialog, x: float, y: float) -> QPoint:
    """Where the picture's pixel (x, y) is on the canvas widget."""
    canvas = dialog.canvas
    rect, scale = canvas._picture_rect(), canvas._scale()
    return QPoint(round(rect.x() + x * scale), round(rect.y() + y * scale))


def _mask_array(dialog: MaskDialog) -> np.ndarray:
    saved = dialog.canvas.save_mask(dialog.masks_folder / "probe.png")
    return np.asarray(Image.open(saved).convert("L"))


@pytest.fixture
def dialog(qtbot, picture: Path, tmp_path: Path) -> MaskDialog:
    """The painter open on the picture, on screen."""
    opened = MaskDialog(picture, tmp_path / "masks")
    qtbot.addWidget(opened)
    opened.show()
    qtbot.waitExposed(opened)
    return opened


def test_painting_erasing_inverting_and_the_brush_keys(qtbot, dialog: MaskDialog) -> None:
    canvas = dialog.canvas
    canvas.set_brush(10)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=_widget_point(dialog, 30, 50))
    qtbot.mouseMove(canvas, _widget_point(dialog, 80, 50))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_widget_point(dialog, 80, 50))
    mask = _mask_array(dialog)
    assert mask.shape == (100, 200)  # the picture's size, whatever the zoom
    assert mask[50, 55] == 255 and mask[50, 150] == 0 and mask[10, 55] == 0

    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush > 10 and dialog.brush.value() == canvas.brush
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush < 10

    dialog.eraser.setChecked(True)
    canvas.set_brush(30)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=_widget_point(dialog, 55, 50))
    assert _mask_array(dialog)[50, 55] == 0  # erased
    assert _mask_array(dialog)[50, 30] == 255  # the rest of the stroke stays
    dialog.eraser.setChecked(False)

    canvas.invert()
    inverted = _mask_array(dialog)
    assert inverted[50, 30] == 0 and inverted[10, 150] == 255
    canvas.clear()
    assert not canvas.has_mask()


def test_dragging_an_edge_outpaints_in_steps_of_eight(qtbot, dialog: MaskDialog) -> None:
    canvas = dialog.canvas
    right_edge = canvas._canvas_rect().right()
    middle = canvas._canvas_rect().center().y()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(round(right_edge), round(middle)))
    qtbot.mouseMove(canvas, _widget_point(dialog, 250, 50))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_widget_point(dialog, 250, 50))
    left, top, right, bottom = canvas.outpaint
    assert (left, top, bottom) == (0, 0, 0) and right % 8 == 0 and 40 <= right <= 56
    assert dialog.sides[2].value() == right  # the pixel boxes follow the drag
    assert "with the border" in dialog.summary.text()
    assert not canvas.has_mask()  # dragging an edge paints nothing

    dialog.sides[1].setValue(37)
    dialog.accept()  # a value typed and not yet confirmed counts, rounded down to a multiple of 8
    assert dialog.result_mask is not None
    assert dialog.result_mask.outpaint == (0, 32, right, 0) and dialog.result_mask.mask is None


def test_ok_saves_the_mask_and_refuses_an_empty_one(qtbot, picture: Path, tmp_path: Path) -> None:
    dialog = MaskDialog(picture, tmp_path / "masks", blur=9, masked_only=True)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.accept()
    assert dialog.result_mask is None and "Paint the part to repaint" in dialog.summary.text()
    dialog.canvas.set_brush(20)
    qtbot.mouseClick(dialog.canvas, Qt.MouseButton.LeftButton, pos=_widget_point(dialog, 100, 50))
    dialog.accept()
    painted = dialog.result_mask
    assert painted is not None and painted.blur == 9 and painted.masked_only
    assert painted.mask.parent == tmp_path / "masks" and painted.mask.name.startswith("harbour-mask-")
    saved = np.asarray(Image.open(painted.mask).convert("L"))
    assert saved.shape == (100, 200) and saved[50, 100] == 255 and saved[5, 5] == 0

    # Opened again with that mask, the painter shows it to carry on.
    again = MaskDialog(picture, tmp_path / "masks", mask=painted.mask)
    qtbot.addWidget(again)
    assert again.canvas.has_mask()
    assert again.canvas.to_picture(QPointF(again.canvas._picture_rect().topLeft())) == QPointF(0, 0)


@pytest.fixture
def page(tiny_image_model, open_image_page):
    return open_image_page()


def test_the_image_page_paints_a_mask_and_generates_with_it(qtbot, page, tmp_path: Path) -> None:
    assert page.paint_mask() is None and "Choose an init image first" in page.status.text()
    init = tmp_path / "harbour.png"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(init)
    page.use_as_init_image(init)
    dialog = page.paint_mask()
    assert dialog is not None
    dialog.canvas.set_brush(12)
    qtbot.mouseClick(dialog.canvas, Qt.MouseButton.LeftButton, pos=_widget_point(dialog, 20, 20))
    dialog.sides[2].setValue(16)
    dialog.accept()
    assert page.settings.mask_label.text() == "mask · feather 4 px · border 0,0,16,0"
    request = page.settings.request("a red circle", "")
    assert request.mask is not None and request.outpaint == (0, 0, 16, 0) and request.mask_blur == 4

    page.prompt.setPlainText("a red circle")
    page.settings.steps.setValue(2)
    page.settings.seed.setText("5")
    page.generate()
    qtbot.waitUntil(lambda: page.gallery.list.count() == 1, timeout=120000)
    result = np.asarray(Image.open(page.gallery.paths()[0]).convert("RGB"))
    assert result.shape == (64, 80, 3)  # the border added on the right
    original = np.asarray(Image.open(init).convert("RGB"))
    assert np.array_equal(result[40:, :40], original[40:, :40])  # far from the mask: untouched

    page.settings.init_image.setText("")  # a mask belongs to its picture
    assert page.settings.painted is None and page.settings.mask_label.text().startswith("none")


def test_the_image_page_runs_a_hires_fix(qtbot, page) -> None:
    assert not page.settings.hires_strength.isEnabled()  # off at ×1
    page.settings.hires_scale.setValue(2.0)
    assert page.settings.hires_strength.isEnabled() and page.settings.hires_upscaler.currentData() == "latent"
    page.prompt.setPlainText("a red circle")
    page.settings.steps.setValue(2)
    page.generate()
    qtbot.waitUntil(lambda: page.gallery.list.count() == 1, timeout=120000)
    with Image.open(page.gallery.paths()[0]) as result:
        assert result.size == (128, 128)  # the tiny model's 64 px, twice
        assert "Hires upscale: 2" in result.info["parameters"]
