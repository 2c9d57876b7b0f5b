"""The live preview: a label that shows the latest step preview or the finished image, scaled to fit."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


def array_to_qimage(rgb: np.ndarray) -> QImage:
    """An (h, w, 3) uint8 array as a QImage that owns its pixels."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class ImagePreview(QLabel):
    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("image-preview")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(QSize(200, 200))
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setStyleSheet("background: palette(base); border: 1px solid palette(mid);")
        self.updates = 0  # how many pictures were shown (tests and status use it)
        self.clear_preview()

    def clear_preview(self) -> None:
        """Back to the placeholder (a cancelled image leaves no half-made preview behind)."""
        self._source = QPixmap()
        self.clear()
        self.setText("The preview appears here while an image is generated.")

    def show_array(self, rgb: np.ndarray) -> None:
        self._show(QPixmap.fromImage(array_to_qimage(rgb)), smooth=False)  # latent-size: keep it blocky

    def show_file(self, path: Path) -> bool:
        pixmap = QPixmap(str(path))
        if pixmap.isNull():
            return False
        self._show(pixmap, smooth=True)
        return True

    def pixmap_source(self) -> QPixmap:
        return self._source

    def _show(self, pixmap: QPixmap, smooth: bool) -> None:
        self._source = pixmap
        self._smooth = smooth
        self.updates += 1
        self._rescale()

    def _rescale(self) -> None:
        if self._source.isNull():
            return
        mode = Qt.TransformationMode.SmoothTransformation if self._smooth else Qt.TransformationMode.FastTransformation
        self.setPixmap(self._source.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio, mode))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()
