"""Under the answer: the project code the model was given (path:lines, symbol, score, why it
matched), and the project picker that chooses where that code comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMenu, QPushButton, QWidget

from .code_conversation import source_line

SOURCE_ROLE = Qt.ItemDataRole.UserRole


class SourcesList(QListWidget):
    """The sources of the shown answer; activating one opens its file."""

    openRequested = Signal(str, int)  # path, line
    choicesChanged = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("code-sources")
        self.setToolTip("The project code the model was given; double-click opens the file, "
                        "right-click pins or excludes it for the next turn")
        self.setMaximumHeight(96)
        self.root: Optional[Path] = None
        self.itemActivated.connect(self._activated)
        self.setVisible(False)
        # For the next turn: sources given whatever the search finds, and sources never given.
        self.pinned: dict[tuple[str, int], dict[str, Any]] = {}
        self.excluded: set[tuple[str, int]] = set()
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)

    def show_sources(self, sources: list[dict[str, Any]] | tuple[dict[str, Any], ...], root: Optional[Path]) -> None:
        self.clear()
        self.root = root
        for source in sources:
            mark = " · pinned" if key(source) in self.pinned else ""
            item = QListWidgetItem(source_line(source) + mark)
            item.setData(SOURCE_ROLE, source)
            self.addItem(item)
        self.setVisible(bool(sources))

    def pin(self, row: int) -> None:
        source = dict(self.item(row).data(SOURCE_ROLE))
        if "text" not in source and self.root is not None:  # the history keeps where, not the code
            try:
                lines = (self.root / str(source["path"])).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                lines = []
            source["text"] = "\n".join(lines[int(source["start_line"]) - 1:int(source["end_line"])])
        self.pinned[key(source)] = source
        self.excluded.discard(key(source))
        self.item(row).setText(source_line(source) + " · pinned")
        self.choicesChanged.emit()

    def exclude(self, row: int) -> None:
        source = self.item(row).data(SOURCE_ROLE)
        self.excluded.add(key(source))
        self.pinned.pop(key(source), None)
        self.item(row).setText(source_line(source) + " · excluded")
        self.choicesChanged.emit()

    def forget_choices(self) -> None:
        self.pinned.clear()
        self.excluded.clear()

    def apply(self, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The sources for the next request: the pinned ones first, then what was found, less the excluded."""
        pinned = list(self.pinned.values())
        return pinned + [s for s in found if key(s) not in self.excluded and key(s) not in self.pinned]

    def _menu(self, position) -> None:
        item = self.itemAt(position)
        if item is None:
            return
        row = self.row(item)
        menu = QMenu(self)
        menu.addAction("Pin for the next turn", lambda: self.pin(row))
        menu.addAction("Exclude from the next turn", lambda: self.exclude(row))
        menu.exec(self.viewport().mapToGlobal(position))

    def _activated(self, item: QListWidgetItem) -> None:
        source = item.data(SOURCE_ROLE)
        path = str(source.get("path", ""))
        self.openRequested.emit(str(self.root / path) if self.root else path, int(source.get("start_line") or 1))


def key(source: dict[str, Any]) -> tuple[str, int]:
    return str(source.get("path")), int(source.get("start_line") or 0)


class ProjectPicker(QWidget):
    """Project: [none | folders…] [Add…] and the index's state."""

    addRequested = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setObjectName("code-project")
        self.combo.setToolTip("Give the model the code of this project that best matches the request")
        self.combo.setMinimumContentsLength(12)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
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
