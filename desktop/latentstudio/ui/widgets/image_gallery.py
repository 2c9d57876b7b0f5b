"""Results of this session (and recent ones from the outputs folder) with their settings, their
CLIP score (sortable: newest first or best score first) and actions."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..file_actions import copy_image, copy_path, open_file
from .thumbnail_grid import ThumbnailGridList, thumbnail_slider

THUMB = 128
PATH_ROLE = Qt.ItemDataRole.UserRole
SCORE_ROLE = Qt.ItemDataRole.UserRole + 1  # CLIP score, or None
ORDER_ROLE = Qt.ItemDataRole.UserRole + 2  # arrival: higher is newer
NEWEST, BEST_SCORE = "newest", "score"
SCORE_TIP = "CLIP score: how well the picture matches its prompt's words. A guide, not a judge."


class ImageGallery(QWidget):
    reuseRequested = Signal(object)  # Path
    initRequested = Signal(object)
    moreLikeThisRequested = Signal(object)
    revealRequested = Signal(object)
    describeRequested = Signal(object)
    upscaleRequested = Signal(object)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self._arrivals = 0
        self.order = QComboBox()
        self.order.setObjectName("gallery-order")
        self.order.addItem("Newest first", NEWEST)
        self.order.addItem("Best CLIP score first", BEST_SCORE)
        self.order.setToolTip(SCORE_TIP)
        self.order.currentIndexChanged.connect(lambda _: self.sort())
        self.list = ThumbnailGridList()
        self.list.setPlaceholderText("Images you generate appear here, with their settings.")
        self.list.setObjectName("gallery")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.set_thumbnail_size(THUMB)  # below it: name, score
        self.thumb_size = thumbnail_slider(64, THUMB, "gallery-thumbnail-size")
        self.thumb_size.setAccessibleName("Thumbnail size")
        self.thumb_size.valueChanged.connect(self.list.set_thumbnail_size)
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
        actions = QGridLayout()  # two columns: the gallery stays narrow beside the preview
        for index, (key, label, tip, signal) in enumerate((
            ("reuse", "Reuse settings", "Fill the form with this image's prompt and settings", self.reuseRequested),
            ("init", "Use as init image", "Start a new image from this one (image to image)", self.initRequested),
            ("similar", "More like this", "Search your library for pictures like this one", self.moreLikeThisRequested),
            ("describe", "Describe", "Describe as prompt: turn the picture into a prompt with CLIP (phrase "
             "banks, no other model)", self.describeRequested),
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
        self.order.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.order.setMinimumContentsLength(8)  # the gallery stays narrow beside the preview
        order_row = QHBoxLayout()
        order_row.addWidget(QLabel("Order"))
        order_row.addWidget(self.order, 1)
        size_label = QLabel("Size")
        size_label.setBuddy(self.thumb_size)
        order_row.addWidget(size_label)
        order_row.addWidget(self.thumb_size)
        layout.addLayout(order_row)
        layout.addWidget(self.list, 1)
        layout.addLayout(actions)
        layout.addWidget(self.details)

    def add_image(
        self, path: Path, thumbnail: QImage, details: str, first: bool = True, score: Optional[float] = None
    ) -> None:
        """Add a result (newest first by default); `thumbnail` may be made off the GUI thread."""
        label = path.name if score is None else f"{path.name}\nscore {score:.3f}"
        item = QListWidgetItem(QIcon(QPixmap.fromImage(thumbnail)), label)
        item.setData(PATH_ROLE, str(path))
        item.setData(SCORE_ROLE, score)
        self._arrivals += 1
        item.setData(ORDER_ROLE, self._arrivals if first else -self._arrivals)
        item.setToolTip(details if score is None else f"{details}\nCLIP score {score:.3f} (a guide, not a judge)")
        if first:
            self.list.insertItem(0, item)
            self.list.setCurrentItem(item)
        else:
            self.list.addItem(item)
        if self.order.currentData() == BEST_SCORE:
            self.sort()

    def sort(self) -> None:
        """Newest first, or best CLIP score first (pictures without a score last)."""
        current = self.current_path()
        items = [self.list.takeItem(0) for _ in range(self.list.count())]
        if self.order.currentData() == BEST_SCORE:
            items.sort(key=lambda i: (i.data(SCORE_ROLE) is None, -(i.data(SCORE_ROLE) or 0.0)))
        else:
            items.sort(key=lambda i: -i.data(ORDER_ROLE))
        for item in items:
            self.list.addItem(item)
            if current is not None and Path(item.data(PATH_ROLE)) == current:
                self.list.setCurrentItem(item)

    def show_best(self, paths: list[Path]) -> None:
        """Rank these by score, best first, and select the best: a finished "best of N" batch."""
        self.order.setCurrentIndex(self.order.findData(BEST_SCORE))
        wanted = {str(p) for p in paths}
        scored = [self.list.item(i) for i in range(self.list.count()) if self.list.item(i).data(PATH_ROLE) in wanted]
        scored = [i for i in scored if i.data(SCORE_ROLE) is not None]
        if scored:
            self.list.setCurrentItem(max(scored, key=lambda i: i.data(SCORE_ROLE)))

    def scores(self) -> list[Optional[float]]:
        return [self.list.item(i).data(SCORE_ROLE) for i in range(self.list.count())]

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
        menu.addAction("Reveal file", lambda: self.revealRequested.emit(path))
        menu.addAction("Copy path", lambda: copy_path(path))
        menu.addAction("Copy image", lambda: copy_image(path))
        menu.addSeparator()
        menu.addAction("More like this", lambda: self.moreLikeThisRequested.emit(path))
        menu.addAction("Use as init image", lambda: self.initRequested.emit(path))
        menu.addAction("Reuse settings", lambda: self.reuseRequested.emit(path))
        menu.addAction("Upscale…", lambda: self.upscaleRequested.emit(path))
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
