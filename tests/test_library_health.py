"""The Search page lists the files the library skipped, with why, and those waiting to be indexed:
the folder panel only counted them ("7 skipped"), and only `library status` said why."""

from __future__ import annotations

import random
from pathlib import Path

from PySide6.QtCore import Qt

from latentstudio.ui.page_services import PageServices
from latentstudio.ui.pages.search_page import SearchPage
from latentstudio.ui.widgets import library_health
from tests.support import tiny_clip


def test_details_lists_skipped_files_with_why_and_waiting_ones_and_reveals_them(qtbot, shapes, monkeypatch) -> None:
    ctx, photos = shapes
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 20)
    (photos / "empty.png").write_bytes(b"")
    page = SearchPage(PageServices.create(ctx))
    qtbot.addWidget(page)
    page.show()
    page.controller.rescan_delay_s = 600.0  # the watcher must not index the new picture during the test
    page.controller.start()
    qtbot.waitUntil(lambda: not page.controller.busy and ctx.library.store.status()["skipped"] == 2, timeout=60000)
    qtbot.waitUntil(lambda: page.controller.index.handle is None or page.controller.index.handle.done(),
                    timeout=60000)
    tiny_clip.shape_image("red", "circle", random.Random(1), size=96).save(photos / "new.jpg")
    ctx.library.scan()  # found, not indexed yet: it waits

    revealed: list[Path] = []
    monkeypatch.setattr(library_health, "reveal", revealed.append)
    qtbot.mouseClick(page.folders.details_button, Qt.MouseButton.LeftButton)
    dialog = page.findChild(library_health.LibraryHealthDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.skipped.topLevelItemCount() == 2, timeout=10000)
    rows = {dialog.skipped.topLevelItem(i).text(0): dialog.skipped.topLevelItem(i).text(1) for i in range(2)}
    assert rows["empty.png"] == "empty file (0 bytes)"
    assert rows["broken.jpg"]  # the decoder's reason, in words
    assert dialog.tabs.tabText(0) == "Skipped (2)" and dialog.tabs.tabText(1) == "Waiting (1)"
    assert "2 files are skipped" in dialog.summary.text() and "1 file waits" in dialog.summary.text()
    assert not dialog.reveal_button.isEnabled()
    dialog.skipped.setCurrentItem(dialog.skipped.topLevelItem(0))
    qtbot.mouseClick(dialog.reveal_button, Qt.MouseButton.LeftButton)
    assert revealed == [photos / "broken.jpg"]
    dialog.tabs.setCurrentIndex(1)
    assert dialog.waiting.topLevelItem(0).text(0) == "new.jpg"
    dialog.waiting.setCurrentItem(dialog.waiting.topLevelItem(0))
    dialog.reveal_selected()
    assert revealed[-1] == photos / "new.jpg"
    dialog.close()
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)
