"""Under the answer: the project code the model was given (path:lines, symbol, score, why it
matched), and the project picker that chooses where that code comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QWidget

from .code_conversation import source_line

SOURCE_ROLE = Qt.ItemDataRole.UserRole


class SourcesList(QListWidget):
    """The sources of the shown answer; activating one opens its file."""

    openRequested = Signal(str, int)  # path, line

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("code-sources")
        self.setToolTip("The project code the model was given; double-click opens the file")
        self.setMaximumHeight(96)
        self.root: Optional[Path] = None
        self.itemActivated.connect(self._activated)
        self.setVisible(False)

    def show_sources(self, sources: list[dict[str, Any]] | tuple[dict[str, Any], ...], root: Optional[Path]) -> None:
        self.clear()
        self.root = root
        for source in sources:
            item = QListWidgetItem(source_line(source))
            item.setData(SOURCE_ROLE, source)
            self.addItem(item)
        self.setVisible(bool(sources))

    def _activated(self, item: QListWidgetItem) -> None:
        source = item.data(SOURCE_ROLE)
        path = str(source.get("path", ""))
        self.openRequested.emit(str(self.root / path) if self.root else path, int(source.get("start_line") or 1))


def open_file(path: str) -> bool:
    """Hand the file to the desktop's editor (the line is said in the status: editors differ in how to go there)."""
    return Path(path).is_file() and QDesktopServices.openUrl(QUrl.fromLocalFile(path))


class ProjectPicker(QWidget):
    """Project: [none | folders…] [Add…] and the index's state."""

    addRequested = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setObjectName("code-project")
        self.combo.setToolTip("Give the model the code of this project that best matches the request")
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Add a project folder (indexed in the background; .gitignore is honoured)")
        self.state = QLabel()
        self.state.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Project"))
        layout.addWidget(self.combo)
        layout.addWidget(self.add_button)
        layout.addWidget(self.state, 1)
        self.add_button.clicked.connect(self.addRequested)

    def set_projects(self, folders: list[Path], current: Optional[Path] = None) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem("No project", None)
        for folder in folders:
            self.combo.addItem(folder.name or str(folder), str(folder))
            self.combo.setItemData(self.combo.count() - 1, str(folder), Qt.ItemDataRole.ToolTipRole)
        index = self.combo.findData(str(current)) if current else 0
        self.combo.setCurrentIndex(max(0, index))
        self.combo.blockSignals(False)

    def current(self) -> Optional[Path]:
        data = self.combo.currentData()
        return Path(data) if data else None
