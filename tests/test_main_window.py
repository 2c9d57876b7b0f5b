"""The main window with qtbot: it opens, jobs show with progress and Cancel, settings persist."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from latentstudio.context import AppContext
from latentstudio.engine import Cancelled, DeviceInfo, JobState, Priority
from latentstudio.paths import Paths
from latentstudio.ui.main_window import PAGES, MainWindow


@pytest.fixture
def window(qtbot, ctx: AppContext):
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def test_window_opens_with_every_page(window: MainWindow) -> None:
    assert window.nav.count() == len(PAGES)
    for spec in PAGES:
        page = window.show_page(spec.name)
        assert page.parentWidget() is window.stack.currentWidget()
        assert page.isVisible()
    # The Jobs panel waits collapsed in the status bar; its summary button and Ctrl+J open it.
    assert not window.jobs_dock.isVisible()
    window.queue_label.click()
    assert window.jobs_dock.isVisible()
    assert "Device" in window.device_label.text()


def test_only_the_first_page_is_built_before_the_first_paint(qtbot, ctx: AppContext) -> None:
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    assert list(win.pages) == ["search"]
    win.show()
    qtbot.waitUntil(lambda: len(win.pages) == len(PAGES), timeout=10000)
    win.close()


def test_pages_needing_models_say_so(window: MainWindow) -> None:
    for name, kind in (("search", "clip"), ("image", "diffusion"), ("code", "llm")):
        page = window.page(name)
        assert page.card.kind == kind
        assert page.card.isVisibleTo(page) or not page.shows_tools


SHOWN_PROBE = """
import sys
from PySide6.QtWidgets import QApplication
from latentstudio.context import AppContext
from latentstudio.ui.main_window import MainWindow

app = QApplication([])
window = MainWindow(AppContext())

def shown():
    heavy = sorted(m for m in ("torch", "diffusers", "transformers", "open_clip") if m in sys.modules)
    print("heavy-modules-at-first-paint:", ",".join(heavy) or "none", flush=True)
    app.quit()

window.firstPainted.connect(shown)
window.show()
app.exec()
"""


def test_window_shows_before_torch_is_imported(fresh_home) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "LATENT_STUDIO_HOME": str(fresh_home)}
    result = subprocess.run([sys.executable, "-c", SHOWN_PROBE], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "heavy-modules-at-first-paint: none" in result.stdout, result.stdout


def test_the_other_pages_are_built_after_the_first_paint_and_never_after_close(qtbot, ctx: AppContext) -> None:
    """A window closed before its other pages were built builds none later: built on a closed
    window (its services gone), a page raised "Signal source has been deleted" and the process
    crashed ("shared QObject was deleted directly")."""
    from latentstudio.ui.main_window import OTHER_PAGES_AFTER_MS

    shown, closed = MainWindow(ctx), MainWindow(ctx)
    for win in (shown, closed):
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: shown._painted and closed._painted, timeout=5000)
    first = set(closed.pages)
    closed.close()
    qtbot.waitUntil(lambda: len(shown.pages) == len(PAGES), timeout=OTHER_PAGES_AFTER_MS + 10_000)
    qtbot.wait(200)
    assert set(closed.pages) == first and len(first) < len(PAGES)
    shown.close()


def test_job_progress_and_cancel_in_jobs_panel(qtbot, window: MainWindow) -> None:
    window.attach_engine()
    qtbot.waitUntil(lambda: "CPU" in window.device_label.text(), timeout=5000)
    release = threading.Event()

    def slow_job(job):
        for step in range(1, 1001):
            job.progress(step, 1000, f"step {step}")
            if step == 3:
                release.wait(5)
            job.checkpoint()

    handle = window.ctx.engine.submit(slow_job, Priority.FOREGROUND, name="test job")
    qtbot.waitUntil(lambda: window.jobs_panel.row_for(handle) is not None, timeout=5000)
    row = window.jobs_panel.row_for(handle)
    qtbot.waitUntil(lambda: row.bar.value() > 0, timeout=5000)
    assert row.bar.maximum() == 1000
    assert "step" in row.status.text()
    assert window.queue_label.text().startswith("Running: test job")
    row.cancel_button.click()
    release.set()
    with pytest.raises(Cancelled):
        handle.result(timeout=5)
    assert handle.state is JobState.CANCELLED
    qtbot.waitUntil(lambda: row.status.text() == "cancelled", timeout=5000)
    qtbot.waitUntil(lambda: window.queue_label.text() == "Idle", timeout=5000)


def test_settings_persist_across_restart(qtbot, paths: Paths) -> None:
    ctx = AppContext(paths, device=DeviceInfo.cpu("tests"))
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    page = win.show_page("settings")
    page.device.setCurrentIndex(page.device.findData("cpu"))
    page.memory.setValue(3.5)
    page.idle.setValue(7)
    page.offline.setChecked(True)
    page.save_button.click()
    assert page.status.text().startswith("Saved.")
    win.close()
    ctx.close()

    restarted = AppContext(paths, device=DeviceInfo.cpu("tests"))
    win2 = MainWindow(restarted)
    qtbot.addWidget(win2)
    page2 = win2.page("settings")
    assert page2.device.currentData() == "cpu"
    assert page2.memory.value() == 3.5
    assert page2.idle.value() == 7
    assert page2.offline.isChecked()
    win2.close()
    restarted.close()


def test_models_page_imports_by_drop(qtbot, window: MainWindow, tiny_models) -> None:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    samples = tiny_models("safetensors-samples")
    page = window.show_page("models")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(samples / "llm-folder"))])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.model_actions.importFinished, timeout=10000):
        page.dropEvent(event)
    assert [m.id for m in window.ctx.registry.list()] == ["llm-folder"]
    # CLIP, image, code, LoRAs, embeddings, text-embedding, upscalers
    qtbot.waitUntil(lambda: page.tree.topLevelItemCount() == 7)
    code_group = page.tree.topLevelItem(2)
    assert code_group.child(0).text(0) == "llm-folder"
    # the Code page no longer shows its missing-model card
    assert window.page("code").shows_tools


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
