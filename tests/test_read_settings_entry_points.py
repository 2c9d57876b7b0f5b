"""Another tool's settings reach the Image form without drag and drop: from a search result that
carries them, and from File ▸ Open image to read settings…, the same way a drop does."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from latentstudio.context import AppContext
from latentstudio.library.search import SearchHit
from latentstudio.ui.main_window import MainWindow

A1111 = ("a lighthouse at dusk, oil painting\nNegative prompt: blurry\n"
         "Steps: 17, Sampler: Euler a, CFG scale: 6.5, Seed: 1234, Size: 64x64, Model: someone-elses-model")


def _a1111_png(folder: Path) -> Path:
    info = PngInfo()
    info.add_text("parameters", A1111)
    path = folder / "from-a1111.png"
    Image.new("RGB", (64, 64), "navy").save(path, pnginfo=info)
    return path


def _window(qtbot, ctx: AppContext, tiny_models) -> MainWindow:
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    return window


def test_file_menu_reads_a_pictures_settings_into_the_image_form(qtbot, ctx: AppContext, tiny_models,
                                                                  tmp_path: Path) -> None:
    window = _window(qtbot, ctx, tiny_models)
    file_menu = window.menuBar().actions()[0].menu()
    assert any(action.text().startswith("&Open image to read settings") for action in file_menu.actions())
    window.open_image_settings(_a1111_png(tmp_path))
    page = window.page("image")
    assert window.stack.currentWidget() is window._slots["image"]
    assert page.prompt.toPlainText() == "a lighthouse at dusk, oil painting"
    assert page.negative.toPlainText() == "blurry"
    assert page.settings.steps.value() == 17 and page.settings.seed.text() == "1234"


def test_the_open_dialog_offers_every_picture_type_the_library_reads(qtbot, ctx: AppContext, tiny_models,
                                                                     tmp_path: Path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    window = _window(qtbot, ctx, tiny_models)
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: asked.append(args[3]) or ("", ""))
    window.open_image_settings()
    assert len(asked) == 1 and all(f"*.{kind}" in asked[0] for kind in ("png", "jpg", "heic", "avif", "webp"))


def test_a_search_result_with_another_tools_settings_offers_to_reuse_them(qtbot, ctx: AppContext, tiny_models,
                                                                          tmp_path: Path) -> None:
    window = _window(qtbot, ctx, tiny_models)
    search = window.show_page("search")
    plain = tmp_path / "plain.png"
    Image.new("RGB", (64, 64), "red").save(plain)
    foreign = _a1111_png(tmp_path)

    def labels(path: Path) -> list[str]:
        return [action.text() for action in search.result_menu(SearchHit(path, 0.3, 1)).actions()]

    assert "Reuse its settings" not in labels(plain)
    assert "Reuse its settings" in labels(foreign)
    reuse = next(a for a in search.result_menu(SearchHit(foreign, 0.3, 1)).actions() if a.text() == "Reuse its settings")
    reuse.trigger()
    assert window.page("image").settings.steps.value() == 17
