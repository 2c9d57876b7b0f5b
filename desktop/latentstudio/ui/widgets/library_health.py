"""Which files the library could not use and why, and which still wait to be indexed: opened from
the Search page's folder panel. The lists are read off the GUI thread (they grow with the library)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..background import run_in_background
from ..file_actions import reveal

SHOWN = 2000  # rows listed per kind; the count says how many there are in all
PATH_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class LibraryHealth:
    skipped_total: int
    skipped: list[tuple[str, str]]  # (path, why it cannot be used)
    waiting_total: int
    waiting: list[str]


def read_health(store, model: Optional[str]) -> LibraryHealth:
    """Runs on a worker thread."""
    skipped_total, skipped = store.skipped_files(SHOWN)
    waiting_total, waiting = store.waiting_files(model, SHOWN)
    return LibraryHealth(skipped_total, skipped, waiting_total, waiting)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


class LibraryHealthDialog(QDialog):
    def __init__(self, read: Callable[[], LibraryHealth], parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowTitle("Skipped and waiting files")
        self.setObjectName("library-health")
        self.resize(720, 460)
        self.summary = QLabel("Reading the library…")
        self.summary.setWordWrap(True)
        self.skipped = self._tree(["File", "Why it is skipped", "Folder"])
        self.waiting = self._tree(["File", "Folder"])
        self.tabs = QTabWidget()
        self.tabs.addTab(self.skipped, "Skipped")
        self.tabs.addTab(self.waiting, "Waiting")
        self.reveal_button = QPushButton("Reveal in folder")
        self.reveal_button.setToolTip("Show the selected file in the file manager")
        self.reveal_button.setEnabled(False)
        self.reveal_button.clicked.connect(self.reveal_selected)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.reveal_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.tabs.currentChanged.connect(lambda _: self._selection_changed())
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        run_in_background(read, self.show_health,
                          lambda exc: self.summary.setText(f"Could not read the library: {exc}"))

    def _tree(self, headers: list[str]) -> QTreeWidget:
        tree = QTreeWidget()
        tree.setHeaderLabels(headers)
        tree.setRootIsDecorated(False)
        tree.setUniformRowHeights(True)
        tree.setColumnWidth(0, 200)
        if len(headers) == 3:
            tree.setColumnWidth(1, 300)  # the reason is what this list is for
        tree.itemSelectionChanged.connect(self._selection_changed)
        tree.itemDoubleClicked.connect(lambda item, _: reveal(Path(item.data(0, PATH_ROLE))))
        return tree

    def show_health(self, health: LibraryHealth) -> None:
        self.skipped.clear()
        self.waiting.clear()
        for path, reason in health.skipped:
            self.skipped.addTopLevelItem(self._item(path, [reason, os.path.dirname(path)]))
        for path in health.waiting:
            self.waiting.addTopLevelItem(self._item(path, [os.path.dirname(path)]))
        self.tabs.setTabText(0, f"Skipped ({health.skipped_total:,})")
        self.tabs.setTabText(1, f"Waiting ({health.waiting_total:,})")
        parts = [
            _plural(health.skipped_total, "file is skipped: it cannot be read as a picture, so it is not searched",
                    "files are skipped: they cannot be read as pictures, so they are not searched")
            if health.skipped_total else "No file is skipped",
            _plural(health.waiting_total, "file waits to be indexed; it is searchable once indexed",
                    "files wait to be indexed; they are searchable once indexed")
            if health.waiting_total else "Nothing waits to be indexed",
        ]
        shown = max(len(health.skipped), len(health.waiting))
        more = f" The first {SHOWN:,} of each are listed." if shown >= SHOWN else ""
        self.summary.setText(". ".join(parts) + "." + more)
        if not health.skipped_total and health.waiting_total:
            self.tabs.setCurrentIndex(1)

    @staticmethod
    def _item(path: str, rest: list[str]) -> QTreeWidgetItem:
        item = QTreeWidgetItem([os.path.basename(path), *rest])
        item.setData(0, PATH_ROLE, path)
        item.setToolTip(0, path)
        item.setToolTip(1, rest[0])
        return item

    def selected_path(self) -> Optional[Path]:
        tree = self.tabs.currentWidget()
        assert isinstance(tree, QTreeWidget)
        items = tree.selectedItems()
        return Path(items[0].data(0, PATH_ROLE)) if items else None

    def _selection_changed(self) -> None:
        self.reveal_button.setEnabled(self.selected_path() is not None)

    def reveal_selected(self) -> None:
        path = self.selected_path()
        if path is not None:
            reveal(path)
