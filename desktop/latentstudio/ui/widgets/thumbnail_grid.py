"""Thumbnail grids that fill their width, and the size slider that goes with them (the Search
results and the Image page's gallery)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QSlider, QStyle

from .empty_state import EmptyStateList


class FillingGridMixin:
    """For icon-mode QListView subclasses: cells as wide as the view allows (as many columns as fit,
    widened to share the row's spare width), so the grid fills the view edge to edge at every size."""

    _thumbnail = 128
    text_height = 44  # below the thumbnail: its lines of text

    def set_thumbnail_size(self, size: int) -> None:
        self._thumbnail = size
        self.setIconSize(QSize(size, size))
        self.fit_grid()

    def fit_grid(self) -> None:
        # The scroll bar's width is always set aside: its coming and going would otherwise change
        # the column count back and forth; the icon layout also wants a little slack per row.
        spare = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent) + 2 * self.frameWidth() + 4
        width = max(1, self.width() - spare)
        columns = max(1, width // (self._thumbnail + 24))
        cell = QSize(width // columns, self._thumbnail + self.text_height)
        if cell != self.gridSize():  # a new grid size lays every item out again
            self.setGridSize(cell)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self.fit_grid()


class ThumbnailGridList(FillingGridMixin, EmptyStateList):
    pass


def thumbnail_slider(minimum: int, maximum: int, name: str) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setObjectName(name)
    slider.setRange(minimum, maximum)
    slider.setValue(maximum)
    slider.setMinimumWidth(72)  # still a handle to drag in a narrow panel
    slider.setMaximumWidth(140)
    slider.setToolTip("Thumbnail size")
    return slider
