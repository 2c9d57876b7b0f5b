"""The Models page and the missing-model card with qtbot: import, download, cancel, offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from latentstudio.context import AppContext
from latentstudio.engine import JobState
from latentstudio.ui.main_window import MainWindow
from tests.support.fake_hub import FakeHub, point_client_at
from tests.support.held_engine import WINDOW_TIMEOUT_MS

REPO = "test-org/tiny-coder"


@pytest.fixture
def tiny_lm(tiny_models) -> Path:
    return tiny_models("llm-tiny")


@pytest.fixture
def catalogue(tiny_lm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    entry = {
        "id": "tiny-coder", "kind": "llm", "name": "Tiny coder", "repo": REPO,
        "licence": "Apache-2.0", "licence_url": "https://example.invalid/licence",
        "good_for": "tests", "default_for": ["cpu", "gpu"],
        "files": [{"path": p.name, "size": p.stat().st_size} for p in sorted(tiny_lm.iterdir())],
    }
    folder = tmp_path / "resources"  # the real resources (task templates, phrase banks…) with a test catalogue
    shutil.copytree(Path(__file__).resolve().parents[1] / "resources", folder)
    (folder / "models.json").write_text(json.dumps({"version": 1, "models": [entry]}))
    monkeypatch.setenv("LATENT_STUDIO_RESOURCES", str(folder))
    return entry


@pytest.fixture
def hub(tiny_lm: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    with FakeHub() as server:
        server.add_folder(REPO, tiny_lm)
        point_client_at(server, monkeypatch, tmp_path / "hf-cache")
        yield server


@pytest.fixture
def window(qtbot, ctx: AppContext, catalogue) -> Iterator[MainWindow]:
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.page("models").downloads.shutdown()
    win.close()


def test_missing_model_card_import_installs_and_shows_the_page(qtbot, window, tiny_models, monkeypatch):
    samples = tiny_models("safetensors-samples")
    page = window.show_page("search")
    assert not page.shows_tools and page.card.isVisible()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(samples / "open-clip-folder"))

    page.card.import_folder_button.click()

    qtbot.waitUntil(lambda: page.shows_tools, timeout=10_000)
    assert window.ctx.registry.resolve("clip").format == "open_clip_hub"


def test_missing_model_card_refuses_a_wrong_file_with_its_reason(qtbot, window, tiny_models, monkeypatch):
    samples = tiny_models("safetensors-samples")
    page = window.show_page("search")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(samples / "truncated.safetensors"), ""))

    page.card.import_file_button.click()

    qtbot.waitUntil(lambda: "truncated" in page.card.message.text(), timeout=10_000)
    assert not page.shows_tools and window.ctx.registry.list() == []


def test_missing_model_card_downloads_the_recommended_model(qtbot, window, hub):
    page = window.show_page("code")
    card = page.card
    assert card.download_button.isVisible()
    assert "Tiny coder" in card.offer.text() and "Apache-2.0" in card.offer.text()
    assert "MB" in card.download_button.text()  # the size is on the button
    assert hub.requests == []  # nothing is fetched before the click

    card.download_button.click()

    qtbot.waitUntil(lambda: page.shows_tools, timeout=30_000)
    assert window.ctx.registry.resolve("llm").id == "tiny-coder"
    rows = list(window.jobs_panel.rows.values())
    assert rows and rows[0].handle.state is JobState.FINISHED  # the download is listed as a job
    models_page = window.page("models")
    assert models_page.catalogue_rows["tiny-coder"].download_button.text() == "Installed"


def test_models_page_cancel_leaves_no_trace(qtbot, window, hub):
    hub.faults.drop_after["model.safetensors"] = 1000
    hub.faults.errors_after_drop["model.safetensors"] = 100  # keeps the download retrying
    page = window.show_page("models")
    row = page.catalogue_rows["tiny-coder"]
    assert "Apache-2.0" in row.details.text() and "MB download" in row.details.text()

    row.download_button.click()
    qtbot.waitUntil(lambda: "retrying" in row.status.text(), timeout=30_000)
    assert row.cancel_button.isVisible()
    row.cancel_button.click()

    qtbot.waitUntil(lambda: row.status.text() == "Cancelled.", timeout=10_000)
    assert window.ctx.registry.list() == []
    assert not any(window.ctx.paths.downloads.rglob("*"))
    assert row.download_button.isVisible() and not row.cancel_button.isVisible()


def test_a_download_that_ended_is_not_running_while_its_last_event_is_shown(qtbot, window, hub) -> None:
    """The last event reaches the window before the queue lets go of the job: rows must not read
    the job as still running then (a row kept Download hidden after Cancel)."""
    from latentstudio.engine import EventKind

    page = window.show_page("models")
    row = page.catalogue_rows["tiny-coder"]
    seen = []

    def on_event(event) -> None:  # in the GUI thread, as the row's own handler
        if event.kind is EventKind.CANCELLED:
            seen.append(page.downloads.job_for("tiny-coder"))

    hub.faults.drop_after["model.safetensors"] = 1000
    hub.faults.errors_after_drop["model.safetensors"] = 100
    page.downloads.jobEvent.connect(on_event)
    row.download_button.click()
    qtbot.waitUntil(lambda: "retrying" in row.status.text(), timeout=30_000)
    row.cancel_button.click()
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    assert seen[0] is None
    assert row.download_button.isVisible() and not row.cancel_button.isVisible()


def test_interrupted_download_offers_resume(qtbot, window, hub):
    hub.faults.drop_after["model.safetensors"] = 50_000
    hub.faults.errors_after_drop["model.safetensors"] = 100
    page = window.show_page("models")
    row = page.catalogue_rows["tiny-coder"]
    row.download_button.click()
    qtbot.waitUntil(lambda: "retrying" in row.status.text(), timeout=30_000)

    page.downloads.shutdown()  # the app closes mid-download: partial files are kept

    qtbot.waitUntil(lambda: row.download_button.isVisible(), timeout=10_000)
    assert row.download_button.text().startswith("Resume (")
    hub.faults.errors_after_drop.clear()
    hub.requests.clear()
    row.download_button.click()
    qtbot.waitUntil(lambda: row.download_button.text() == "Installed", timeout=30_000)
    assert ("GET", "/test-org/tiny-coder/resolve/0123456789abcdef0123456789abcdef01234567/model.safetensors",
            "bytes=50000-") in hub.requests


def test_offline_mode_offers_no_download_in_the_window(qtbot, window, hub):
    window.ctx.settings.update(offline_mode=True)
    page = window.show_page("code")

    page.card.download_button.click()  # disabled: the click does nothing

    assert not page.card.download_button.isEnabled()
    assert "Offline mode is on" in page.card.message.text()
    assert "Offline mode is on" in page.card.download_button.toolTip()
    models_page = window.show_page("models")
    assert all(not row.download_button.isEnabled() for row in models_page.catalogue_rows.values())
    assert hub.requests == [] and window.ctx.registry.list() == []


def test_remove_asks_first_and_says_what_it_frees(qtbot, window, tiny_models, monkeypatch):
    samples = tiny_models("safetensors-samples")
    window.ctx.registry.import_path(samples / "llm-folder")
    page = window.show_page("models")
    page.actions.modelsChanged.emit()
    questions = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda parent, title, text, *a: questions.append(text) or QMessageBox.StandardButton.Yes
    )
    item = page.tree.findItems("llm-folder", Qt.MatchFlag.MatchRecursive)[0]
    page.tree.setCurrentItem(item)

    page.remove_button.click()

    assert questions and "frees" in questions[0]
    assert window.ctx.registry.list() == [] and "freed" in page.status.text()


def drop_urls(page, paths: list[Path]) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    page.dropEvent(event)


def test_dropping_a_folder_of_checkpoints_imports_each(qtbot, window, tiny_models, tmp_path):
    import shutil

    samples = tiny_models("safetensors-samples")
    collection = tmp_path / "checkpoints"
    collection.mkdir()
    for name in ("sd15-checkpoint.safetensors", "sdxl-checkpoint.safetensors", "garbage.safetensors"):
        shutil.copy(samples / name, collection / name)
    page = window.show_page("models")

    drop_urls(page, [collection])

    qtbot.waitUntil(lambda: "Imported 2 of 3 models" in page.status.text(), timeout=10_000)
    assert "garbage.safetensors" in page.status.text()
    assert sorted(m.id for m in window.ctx.registry.list("diffusion")) == ["sd15-checkpoint", "sdxl-checkpoint"]
    assert window.page("image").shows_tools  # the page needing it now shows its tools


def test_pickle_checkpoint_needs_the_opt_in(qtbot, window, tmp_path):
    import torch

    ckpt = tmp_path / "old.ckpt"
    torch.save({"state_dict": {"model.diffusion_model.x": torch.zeros(2)}}, ckpt)
    page = window.show_page("models")

    drop_urls(page, [ckpt])
    qtbot.waitUntil(lambda: "Import refused" in page.status.text(), timeout=10_000)
    assert window.ctx.registry.list() == []

    page.pickle_box.setChecked(True)
    drop_urls(page, [ckpt])
    qtbot.waitUntil(lambda: window.ctx.registry.list() != [], timeout=10_000)
    assert window.ctx.registry.get("old").path.suffix == ".safetensors"


def test_a_card_says_what_an_import_brought(qtbot, ctx: AppContext, tiny_models) -> None:
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    image_page = window.show_page("image")
    with qtbot.waitSignal(window.model_actions.importFinished, timeout=WINDOW_TIMEOUT_MS):
        window.model_actions.import_path(tiny_models("clip-shapes"), "clip")
    assert "Importing" not in image_page.card.message.text()
    assert "clip-shapes" in image_page.card.message.text() and "still needs" in image_page.card.message.text()
