"""Library folders: add, remove, rescan, with the indexing progress and a Cancel button."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...engine import Progress


class SearchFoldersPanel(QWidget):
    addRequested = Signal(str)
    removeRequested = Signal(str)
    rescanRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("library-folders")
        self.add_button = QPushButton("Add folder…")
        self.remove_button = QPushButton("Remove")
        self.rescan_button = QPushButton("Rescan")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop indexing; the next rescan resumes where it stopped")
        self.cancel_button.hide()
        self.add_button.clicked.connect(self._add)
        self.remove_button.clicked.connect(self._remove)
        self.rescan_button.clicked.connect(self.rescanRequested)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.progress = QProgressBar()
        self.progress.hide()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.rescan_button, self.cancel_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)

    def set_folders(self, rows: list[dict]) -> None:
        self.list.clear()
        for row in rows:
            text = (f"{row['path']}\n{row['images']} images · {row['indexed']} indexed · "
                    f"{row['pending']} waiting · {row['skipped']} skipped")
            item = QListWidgetItem(text)
            item.setData(256, row["path"])
            if row["role"] == "outputs":
                item.setToolTip("Generated images")
            self.list.addItem(item)

    def _add(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a photo folder")
        if folder:
            self.addRequested.emit(folder)

    def _remove(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.removeRequested.emit(item.data(256))

    def show_busy(self, text: str) -> None:
        self.progress.show()
        self.progress.setRange(0, 0)
        self.status.setText(text)

    def show_progress(self, progress: Progress) -> None:
        self.progress.show()
        self.cancel_button.show()
        if progress.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * (progress.fraction or 0)))
        if progress.message:
            self.status.setText(progress.message)

    def show_done(self, text: str) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.status.setText(text)
