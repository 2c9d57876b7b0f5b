"""The window imports a folder holding several models the way the CLI does (models/batch_import.py):
a diffusers folder and a single-file checkpoint side by side both come in."""

from __future__ import annotations

import shutil
from pathlib import Path

from latentstudio.context import AppContext
from latentstudio.ui.main_window import MainWindow


def test_the_missing_model_card_imports_a_folder_of_models(qtbot, ctx: AppContext, tiny_models,
                                                           tmp_path: Path) -> None:
    collection = tmp_path / "Stable-diffusion"
    collection.mkdir()
    shutil.copytree(tiny_models("diffusion-tiny") / "diffusers", collection / "my-diffusers")
    shutil.copy(tiny_models("diffusion-tiny") / "tiny-sd1.safetensors", collection / "one-file.safetensors")
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    page = window.show_page("image")
    with qtbot.waitSignal(window.model_actions.modelsChanged, timeout=120_000):
        page.card.importRequested.emit(collection, "diffusion")
    assert sorted(m.id for m in ctx.registry.list("diffusion")) == ["my-diffusers", "one-file"]
    assert "Imported 2 of 2 models" in page.card.message.text()
    assert "unknown" not in page.card.message.text()


def test_the_models_page_reports_a_folder_of_models(qtbot, ctx: AppContext, tiny_models, tmp_path: Path) -> None:
    collection = tmp_path / "checkpoints"
    collection.mkdir()
    shutil.copytree(tiny_models("diffusion-tiny") / "diffusers", collection / "my-diffusers")
    (collection / "broken.safetensors").write_bytes(b"not a model")
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    page = window.show_page("models")
    with qtbot.waitSignal(window.model_actions.modelsChanged, timeout=120_000):
        page.import_paths([collection])
    assert [m.id for m in ctx.registry.list("diffusion")] == ["my-diffusers"]
    assert "Imported 1 of 2 models" in page.status.text() and "broken.safetensors" in page.status.text()
