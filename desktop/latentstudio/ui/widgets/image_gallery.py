"""Results of this session (and recent ones from the outputs folder) with their settings and actions."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..file_actions import copy_image, copy_path, open_file, reveal

THUMB = 128
PATH_ROLE = Qt.ItemDataRole.UserRole


class ImageGallery(QWidget):
    reuseRequested = Signal(object)  # Path
    initRequested = Signal(object)
    moreLikeThisRequested = Signal(object)
    revealRequested = Signal(object)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("gallery")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setWordWrap(True)
        self.list.currentItemChanged.connect(self._selected)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemActivated.connect(lambda item: self.open(Path(item.data(PATH_ROLE))))
        self.details = QLabel("Select an image to see its settings.")
        self.details.setObjectName("gallery-details")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = {}
        actions = QGridLayout()  # two by two: the gallery stays narrow beside the preview
        for index, (key, label, tip, signal) in enumerate((
            ("reuse", "Reuse settings", "Fill the form with this image's prompt and settings", self.reuseRequested),
            ("init", "Use as init image", "Start a new image from this one (image to image)", self.initRequested),
            ("similar", "More like this", "Search your library for pictures like this one", self.moreLikeThisRequested),
            ("reveal", "Reveal file", "Show the file in your file manager", self.revealRequested),
        )):
            button = QPushButton(label)
            button.setObjectName(f"gallery-{key}")
            button.setToolTip(tip)
            button.setEnabled(False)
            button.clicked.connect(lambda _=False, s=signal: self._emit(s))
            actions.addWidget(button, index // 2, index % 2)
            self.buttons[key] = button
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(actions)
        layout.addWidget(self.details)

    def add_image(self, path: Path, thumbnail: QImage, details: str, first: bool = True) -> None:
        """Add a result (newest first by default); `thumbnail` may be made off the GUI thread."""
        item = QListWidgetItem(QIcon(QPixmap.fromImage(thumbnail)), path.name)
        item.setData(PATH_ROLE, str(path))
        item.setToolTip(details)
        if first:
            self.list.insertItem(0, item)
            self.list.setCurrentItem(item)
        else:
            self.list.addItem(item)

    def paths(self) -> list[Path]:
        return [Path(self.list.item(i).data(PATH_ROLE)) for i in range(self.list.count())]

    def current_path(self) -> Optional[Path]:
        item = self.list.currentItem()
        return Path(item.data(PATH_ROLE)) if item is not None else None

    def _selected(self, item: Optional[QListWidgetItem], _previous: object = None) -> None:
        for button in self.buttons.values():
            button.setEnabled(item is not None)
        self.details.setText(item.toolTip() if item is not None else "")

    def open(self, path: Path) -> None:
        problem = open_file(path)
        if problem:
            self.details.setText(problem)

    def context_menu_for(self, path: Path) -> QMenu:
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open(path))
        menu.addAction("Reveal file", lambda: reveal(path))
        menu.addAction("Copy path", lambda: copy_path(path))
        menu.addAction("Copy image", lambda: copy_image(path))
        menu.addSeparator()
        menu.addAction("More like this", lambda: self.moreLikeThisRequested.emit(path))
        menu.addAction("Use as init image", lambda: self.initRequested.emit(path))
        menu.addAction("Reuse settings", lambda: self.reuseRequested.emit(path))
        return menu

    def _context_menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is not None:
            self.context_menu_for(Path(item.data(PATH_ROLE))).exec(self.list.viewport().mapToGlobal(pos))

    def _emit(self, signal: Signal) -> None:
        path = self.current_path()
        if path is not None:
            signal.emit(path)


def thumbnail_for(path: Path, size: int = THUMB) -> QImage:
    """A scaled QImage (safe to make off the GUI thread, unlike a QPixmap)."""
    image = QImage(str(path))
    if image.isNull():
        return image
    return image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
