"""Upscale… on the Image page: the missing-model card until an upscaler is installed, then a job
with previews, tile progress and Cancel, its result in the gallery."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from latentstudio.context import AppContext
from latentstudio.engine import JobState
from latentstudio.imagegen.metadata import read_metadata
from latentstudio.imagegen.upscale import UpscaleRequest
from latentstudio.ui.pages.image_page import ImagePage

TIMEOUT_MS = 120_000


@pytest.fixture
def page(tiny_image_model, open_image_page):
    return open_image_page()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(path)
    return path


def test_without_an_upscaler_the_dialog_offers_one_then_turns_into_the_form(
    qtbot, page: ImagePage, photo: Path, tiny_models: Callable[[str], Path]
) -> None:
    page.take_picture(photo)  # an opened picture is what Upscale… offers when no result is chosen
    qtbot.mouseClick(page.upscale_button, Qt.MouseButton.LeftButton)
    dialog = page._upscale_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.picture.text() == str(photo)
    assert dialog.stack.currentWidget() is dialog.card and not dialog.ok.isEnabled()
    assert any("Upscaling needs an upscaler model" in label.text() for label in dialog.card.findChildren(QLabel))
    page.model_actions.import_path(tiny_models("upscaler-tiny") / "compact-x2.safetensors", "upscaler")
    qtbot.waitUntil(lambda: dialog.has_model, timeout=TIMEOUT_MS)
    assert dialog.stack.currentIndex() == 1 and dialog.ok.isEnabled()
    assert dialog.model.currentData() == "compact-x2" and dialog.scale.value() == 2.0
    assert "RealESRGAN Compact" in dialog.about.text()


def test_upscale_shows_tiles_and_previews_and_joins_the_gallery(
    qtbot, page: ImagePage, photo: Path, tiny_models: Callable[[str], Path]
) -> None:
    page.ctx.registry.import_path(tiny_models("upscaler-tiny") / "compact-x2.safetensors", model_id="compact")
    dialog = page.upscale_picture(photo)
    dialog.tile.setValue(64)
    qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.gallery.list.count() == 1, timeout=TIMEOUT_MS)
    path = page.gallery.paths()[0]
    assert path.name.endswith("-x2-photo.png") and read_metadata(path).extras["Upscaler"] == "compact"
    assert page.status.text().startswith(f"Saved {path.name} (2×, 320×240")
    assert page.preview.updates >= 7  # six tile previews, then the saved picture
    assert page.preview.pixmap_source().width() == 320
    assert page.progress.format() == "%v / %m steps" and not page.cancel_button.isEnabled()


def test_cancel_stops_an_upscale_between_tiles(qtbot, page: ImagePage, tmp_path: Path, tiny_models) -> None:
    page.ctx.registry.import_path(tiny_models("upscaler-tiny") / "compact-x2.safetensors", model_id="compact")
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((640, 640, 3), dtype=np.uint8)).save(big)
    dialog = page.upscale_picture(big)
    dialog.tile.setValue(32)  # 441 tiles: far more than run before the click lands
    dialog.accept()
    qtbot.waitUntil(lambda: page.progress.value() >= 1 and page.cancel_button.isEnabled(), timeout=TIMEOUT_MS)
    assert page.progress.format() == "%v / %m tiles"
    handle = page._current
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: handle.state is JobState.CANCELLED, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: page.status.text().startswith("Cancelled: Upscale big.png"), timeout=TIMEOUT_MS)
    assert handle.progress.done < 441 and page.gallery.list.count() == 0


def test_a_picture_that_cannot_be_read_is_reported_in_the_window(qtbot, page: ImagePage, tmp_path: Path, tiny_models) -> None:
    page.ctx.registry.import_path(tiny_models("upscaler-tiny") / "compact-x2.safetensors", model_id="compact")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    dialog = page.upscale_picture(broken)
    dialog.accept()
    qtbot.waitUntil(lambda: page.status.text().startswith("Upscale failed: broken.png cannot be read"), timeout=TIMEOUT_MS)
    assert page.upscale(UpscaleRequest(tmp_path / "gone.png")) is None
    assert page.status.text().startswith("Cannot upscale:") and "gone.png does not exist" in page.status.text()


def test_upscaling_is_at_hand_before_any_image_model_is_installed(qtbot, ctx: AppContext,
                                                                   tiny_models: Callable[[str], Path],
                                                                   photo: Path, open_image_page) -> None:
    ctx.registry.import_path(tiny_models("upscaler-tiny") / "compact-x2.safetensors", kind="upscaler",
                             model_id="compact-x2")
    page = open_image_page()
    assert not page.shows_tools  # no image model: the card asks for one …
    assert page.card_upscale.isVisible()  # … and upscaling is still offered
    qtbot.mouseClick(page.card_upscale, Qt.MouseButton.LeftButton)
    dialog = page._upscale_dialog
    assert dialog is not None and dialog.isVisible() and dialog.model.currentData() == "compact-x2"
    dialog.picture.setText(str(photo))
    dialog.accept()
    qtbot.waitUntil(lambda: page.card.message.text().startswith("Saved"), timeout=TIMEOUT_MS)  # said on the card
    assert "2×" in page.card.message.text()
