"""Lists refresh in place: a refresh between the user's click on a row and a click on the button
that acts on it keeps that row (the same item), its tick, the selection and the scroll position."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QMessageBox

from latentstudio.ui.widgets.list_rows import KEY_ROLE, ListRow, sync_rows
from latentstudio.ui.widgets.search_folders import SearchFoldersPanel
from latentstudio.ui.widgets.tag_panel import TagPanel


def _keys(widget: QListWidget) -> list:
    return [widget.item(i).data(KEY_ROLE) for i in range(widget.count())]


def test_rows_are_updated_moved_added_and_removed_by_key(qtbot) -> None:
    widget = QListWidget()
    qtbot.addWidget(widget)
    sync_rows(widget, [ListRow("a", "A"), ListRow("b", "B"), ListRow("c", "C", "see")])
    kept = widget.item(1)
    widget.setCurrentItem(kept)
    changes = []
    widget.currentItemChanged.connect(lambda *_: changes.append(1))
    sync_rows(widget, [ListRow("d", "D"), ListRow("c", "C2"), ListRow("b", "B2")])
    assert _keys(widget) == ["d", "c", "b"]
    assert [widget.item(i).text() for i in range(3)] == ["D", "C2", "B2"]
    assert widget.item(1).toolTip() == "" and widget.item(2) is kept
    assert widget.currentItem() is kept and not changes  # the user changed nothing
    sync_rows(widget, [])
    assert widget.count() == 0


def test_the_tag_list_keeps_the_selected_tag_ticks_and_scroll_across_a_refresh(qtbot, monkeypatch) -> None:
    panel = TagPanel()
    qtbot.addWidget(panel)
    panel.resize(300, 200)
    panel.show()
    tags = [(f"tag {k:02d}", None, k) for k in range(40)]
    panel.set_tags(tags)
    chosen = panel.list.item(30)
    panel.list.setCurrentItem(chosen)
    panel.list.item(31).setCheckState(Qt.CheckState.Checked)
    panel.list.scrollToItem(chosen)
    scroll = panel.list.verticalScrollBar().value()
    assert scroll > 0
    # A background refresh: counts changed, one tag gone, one new.
    panel.set_tags([("a new tag", "group", 3)] + [(label, None, n + 1) for label, _, n in tags if label != "tag 05"])
    assert panel.list.currentItem() is chosen and chosen.text() == "tag 30 (31)"
    assert panel.ticked() == ("tag 31",)
    assert panel.list.verticalScrollBar().value() == scroll
    assert panel.list.item(0).text() == "a new tag (3) · group"
    assert panel.list.item(0).checkState() == Qt.CheckState.Unchecked
    removed, asked = [], []
    panel.removeRequested.connect(removed.append)
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text: asked.append(text) or QMessageBox.StandardButton.Yes)
    panel.remove_button.click()  # the item the user clicked is still there to be acted on
    assert removed == ["tag 30"] and "“tag 30”" in asked[0] and "31 pictures" in asked[0]


def test_the_folder_list_keeps_the_selected_folder(qtbot) -> None:
    folders = SearchFoldersPanel()
    qtbot.addWidget(folders)

    def row(path: str, indexed: int) -> dict:
        return {"path": path, "images": 10, "indexed": indexed, "pending": 10 - indexed, "skipped": 0,
                "role": "outputs" if path == "/outputs" else "user"}

    folders.set_folders([row("/a", 0), row("/b", 0), row("/outputs", 0)])
    chosen = folders.list.item(1)
    folders.list.setCurrentItem(chosen)
    folders.set_folders([row("/a", 5), row("/b", 7), row("/outputs", 1)])
    assert folders.list.currentItem() is chosen and "7 indexed · 3 waiting" in chosen.text()
    assert folders.list.item(2).toolTip() == "Generated images"
    removed = []
    folders.removeRequested.connect(removed.append)
    folders.remove_button.click()
    assert removed == ["/b"]
