"""Library folders: add, remove, rescan; and, in a footer the page shows apart (so it stays in sight
while the folder list is folded away), the scan and indexing progress with a Cancel button."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...engine import Progress
from ...units import counted
from .empty_state import EmptyStateList
from .list_rows import KEY_ROLE, ListRow, sync_rows


class SearchFoldersPanel(QWidget):
    addRequested = Signal(str)
    removeRequested = Signal(str)
    rescanRequested = Signal()
    cancelRequested = Signal()
    detailsRequested = Signal()  # the skipped and waiting files, with why

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.list = EmptyStateList()
        self.list.setPlaceholderText("No folders yet. Add a folder of pictures to search it.")
        self.list.setObjectName("library-folders")
        self.list.setToolTip("Folders whose pictures are searched, with how many are indexed")
        self.add_button = QPushButton("Add folder…")
        self.add_button.setToolTip("Add a folder of pictures (its subfolders too) to the library")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Stop searching the selected folder; its files are not touched")
        self.rescan_button = QPushButton("Rescan")
        self.rescan_button.setToolTip("Look for new, changed, moved and removed pictures now")
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("Which files are skipped and why, and which wait to be indexed")
        self.details_button.clicked.connect(self.detailsRequested)
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
        self.status.setObjectName("library-status")
        self.status.setWordWrap(True)
        self.notice = QLabel("")  # what the user must know beyond the current job (a rebuilt library)
        self.notice.setObjectName("library-notice")
        self.notice.setWordWrap(True)
        self.notice.hide()
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.rescan_button, self.details_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.footer = QWidget()
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel_button)
        footer = QVBoxLayout(self.footer)
        footer.setContentsMargins(0, 0, 0, 0)
        footer.addLayout(bar)
        footer.addWidget(self.notice)
        footer.addWidget(self.status)

    def set_folders(self, rows: list[dict]) -> None:
        """One row per folder, updated in place (the selected folder stays selected)."""
        sync_rows(self.list, [
            ListRow(row["path"],
                    f"{row['path']}\n{counted(row['images'], 'image')} · {row['indexed']} indexed · "
                    f"{row['pending']} waiting · {row['skipped']} skipped",
                    "Generated images" if row["role"] == "outputs" else "")
            for row in rows
        ])

    def _add(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a photo folder")
        if folder:
            self.addRequested.emit(folder)

    def _remove(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.removeRequested.emit(item.data(KEY_ROLE))

    def show_notice(self, text: str) -> None:
        """A message that stays while jobs come and go (empty: none)."""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def show_busy(self, text: str) -> None:
        self.progress.show()
        self.progress.setRange(0, 0)
        self.status.setText(text)

    def show_progress(self, progress: Progress, where: str = "") -> None:
        """`where` (e.g. " on the cluster at ray://head") follows each progress message."""
        self.cancel_button.show()
        if progress.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * (progress.fraction or 0)))
            self.progress.show()
        elif progress.total is None:  # how much is unknown: busy, never the last job's value
            self.progress.setRange(0, 0)
            self.progress.show()
        else:  # nothing to do (e.g. "nothing to index"): no bar at all
            self.progress.hide()
        if progress.message:
            self.status.setText(progress.message + where)

    def show_done(self, text: str) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.status.setText(text)
