"""Reveal in folder says why when no file manager shows the folder, as Open does."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QDesktopServices

from latentstudio.context import AppContext
from latentstudio.ui import file_actions
from latentstudio.ui.main_window import MainWindow


@pytest.fixture
def no_file_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_actions.sys, "platform", "linux")
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: False))


def test_reveal_says_why_it_could_not(no_file_manager, tmp_path: Path) -> None:
    picture = tmp_path / "cat.png"
    picture.write_bytes(b"not really")
    assert "No file manager" in file_actions.reveal(picture) and str(tmp_path) in file_actions.reveal(picture)
    assert "no longer there" in file_actions.reveal(tmp_path / "gone.png")


def test_the_image_page_shows_why_reveal_failed(qtbot, ctx: AppContext, tiny_models, no_file_manager,
                                                tmp_path: Path) -> None:
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    page = window.show_page("image")
    picture = tmp_path / "cat.png"
    picture.write_bytes(b"not really")
    page.gallery.revealRequested.emit(picture)
    assert "No file manager" in page.status.text()
