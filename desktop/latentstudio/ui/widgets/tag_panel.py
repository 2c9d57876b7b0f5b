"""The tag panel of the Search page: the user's tags with their counts, tick to filter the
results by them, add a tag in words (optionally in a group), remove one (after a question that
names it and how many pictures carry it: a tag's confirmations and rejections go with it)."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QLineEdit,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QWidget,
)
from .empty_state import EmptyStateList
from .list_rows import ListRow, sync_rows

LIST_HEIGHT = 96


class TagPanel(QWidget):
    addRequested = Signal(str, str)  # label, group ("" for none)
    removeRequested = Signal(str)
    filterChanged = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.list = EmptyStateList()
        self.list.setPlaceholderText("No tags yet. Type one below, e.g. beach.")
        self.list.setObjectName("tag-list")
        self.list.setMaximumHeight(LIST_HEIGHT)
        self.list.setToolTip("Tick tags to show only pictures that carry them")
        self.new_tag = QLineEdit()
        self.new_tag.setObjectName("new-tag")
        self.new_tag.setPlaceholderText("New tag, e.g. beach")
        self.new_tag.setToolTip("A word or phrase; the picture model finds the pictures that show it")
        self.group = QLineEdit()
        self.group.setPlaceholderText("Group (optional)")
        self.group.setToolTip("Tags of one group (e.g. season) give each picture at most one of them")
        self.add_button = QPushButton("Add tag")
        self.add_button.setToolTip("Add the tag: the pictures that show it are found in the background")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected tag (pictures are not touched)")
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 0, 0, 1, 2)
        layout.addWidget(self.new_tag, 1, 0)
        layout.addWidget(self.group, 1, 1)
        layout.addWidget(self.add_button, 2, 0)
        layout.addWidget(self.remove_button, 2, 1)
        self.add_button.clicked.connect(self._add)
        self.new_tag.returnPressed.connect(self._add)
        self.remove_button.clicked.connect(self._remove)
        self.list.itemChanged.connect(lambda _: self.filterChanged.emit())
        self.counts: dict[str, int] = {}

    def set_tags(self, tags: list[tuple[str, Optional[str], int]]) -> None:
        """(label, group, count) per tag, updated in place: ticks, the selected tag and the scroll
        position are kept for tags that remain."""
        ticked = set(self.ticked())
        self.counts = {label: count for label, _, count in tags}
        rows = [ListRow(label, f"{label} ({count:,})" + (f" · {group}" if group else ""))
                for label, group, count in tags]
        sync_rows(self.list, rows, new_item=_tickable)
        if ticked - {label for label, _, _ in tags}:
            self.filterChanged.emit()

    def ticked(self) -> tuple[str, ...]:
        return tuple(
            self.list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        )

    def _add(self) -> None:
        label = self.new_tag.text().strip()
        if label:
            self.addRequested.emit(label, self.group.text().strip())

    def _remove(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        label = item.data(Qt.ItemDataRole.UserRole)
        if QMessageBox.question(self, "Remove tag", remove_question(label, self.counts.get(label, 0))) \
                == QMessageBox.StandardButton.Yes:
            self.removeRequested.emit(label)


def remove_question(label: str, count: int) -> str:
    carried = f"It is on {count:,} picture{'' if count == 1 else 's'}." if count else "No picture carries it yet."
    return (f"Remove the tag “{label}”? {carried}\n\nThe pictures themselves are not touched, but the tag's "
            "confirmations and rejections go with it; adding it again starts afresh.")


def _tickable(row: ListRow) -> QListWidgetItem:
    item = QListWidgetItem(row.text)
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Unchecked)
    return item
