"""A drop zone for an example image: drop a file (or choose one) to search by similarity."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPixmap
from PySide6.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...library.scan import file_dialog_filter
from ..background import run_in_background
from .thumbnail_loader import decoded_image

PREVIEW_SIZE = 64


def dropped_image(event: QDragEnterEvent | QDropEvent) -> Optional[Path]:
    for url in event.mimeData().urls():
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.is_file():
                return path
    return None


class SearchDropZone(QFrame):
    imageChosen = Signal(object)  # Path
    cleared = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("search-drop-zone")
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumHeight(72)
        self.preview = QLabel()
        self.preview.setFixedSize(PREVIEW_SIZE, PREVIEW_SIZE)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label = QLabel("Drop an image here to find similar ones")
        self.label.setWordWrap(True)
        self.choose = QPushButton("Choose image…")
        self.choose.setToolTip("Pick an example picture: results look like it (with words: like both)")
        self.choose.clicked.connect(self._choose)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Search by the words alone again")
        self.clear_button.clicked.connect(self.clear)
        self.clear_button.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.choose)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        text = QVBoxLayout()
        text.addWidget(self.label)
        text.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.addWidget(self.preview)
        layout.addLayout(text, 1)
        self.image: Optional[Path] = None

    def set_image(self, path: Optional[Path]) -> None:
        self.image = path
        if path is None:
            self.preview.clear()
            self.label.setText("Drop an image here to find similar ones")
            self.clear_button.hide()
            return
        self.preview.clear()
        self.label.setText(f"Like: {path.name}")
        self.clear_button.show()
        ratio = self.devicePixelRatioF()
        run_in_background(partial(decoded_image, path, round(PREVIEW_SIZE * ratio)),
                          partial(self._show_preview, path, ratio), partial(self._no_preview, path))

    def _show_preview(self, path: Path, ratio: float, image: QImage) -> None:
        if path != self.image:  # another example was chosen meanwhile
            return
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(ratio)
        self.preview.setPixmap(pixmap)

    def _no_preview(self, path: Path, error: BaseException) -> None:
        if path == self.image:
            self.label.setText(f"Like: {path.name} (no preview: {error})")

    def choose_image(self, path: Path) -> None:
        self.set_image(path)
        self.imageChosen.emit(path)

    def clear(self) -> None:
        self.set_image(None)
        self.cleared.emit()

    def _choose(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Find images like…", "", file_dialog_filter(raw=True))
        if name:
            self.choose_image(Path(name))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        if dropped_image(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        path = dropped_image(event)
        if path is not None:
            event.acceptProposedAction()
            self.choose_image(path)
