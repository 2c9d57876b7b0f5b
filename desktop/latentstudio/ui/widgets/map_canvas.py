"""The map canvas: every picture as a point, zoom (wheel) and pan (drag), hover, lasso (Shift+drag);
zoomed in (THUMBNAILS_FROM_ZOOM) until few points are on screen, their thumbnails, each framed in
its point's colour. Zoomed out it is always dots, so the colouring shows however small the library.

Points are drawn by numpy into one image per repaint (square dots, 2 pixels wide in a crowded
overview, larger for few points or zoomed in), so 100k points repaint in a few milliseconds; Qt draws that image. Hover finds the nearest
point on screen with one vectorised distance; a lasso selects the points inside its polygon with a
vectorised even-odd test.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen, QPixmap, QPolygonF, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

HOVER_PIXELS = 8
THUMBNAILS_UP_TO = 120  # points on screen from which on dots stand in for pictures
THUMBNAILS_FROM_ZOOM = 4.0  # and only this far zoomed in: the overview shows the colours
FRAME_PIXELS = 3
THUMBNAIL_PIXELS = 56
MARGIN = 0.05
BIG_DOTS_FROM_ZOOM = 4.0

# A palette of well-separated colours; index by category.
PALETTE = np.array([
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120),
    (152, 223, 138), (255, 152, 150), (197, 176, 213), (196, 156, 148), (247, 182, 210), (219, 219, 141),
    (158, 218, 229), (57, 59, 121),
], dtype=np.uint8)
NO_CATEGORY = np.array((90, 90, 90), dtype=np.uint8)


def dot_size(points: int, zoom: float) -> int:
    """Pixels per dot side: larger for few points and when zoomed in, 2 for a crowded overview."""
    base = 6 if points < 2_000 else 4 if points < 20_000 else 2
    return min(10, base * 2) if zoom >= BIG_DOTS_FROM_ZOOM else base


def point_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule for (n, 2) points against an (m, 2) polygon."""
    inside = np.zeros(len(points), dtype=bool)
    x, y = points[:, 0], points[:, 1]
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0)):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < at)
    return inside


class MapCanvas(QWidget):
    hovered = Signal(int)  # row of the point under the pointer, -1 for none
    selected = Signal(object)  # np.ndarray of selected rows (lasso)
    activated = Signal(int)  # double-click on a point

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("map-canvas")
        self.setMouseTracking(True)
        self.setMinimumSize(200, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Wheel: zoom · drag: pan · Shift+drag: select a region · double-click: open")
        self.xy = np.empty((0, 2), dtype=np.float32)
        self.categories = np.empty(0, dtype=np.int64)
        self.selection = np.empty(0, dtype=np.int64)
        self.zoom = 1.0
        self.centre = np.zeros(2, dtype=np.float64)
        self.hover_row = -1
        self._drag: Optional[QPointF] = None
        self._lasso: list[QPointF] = []
        # row → its thumbnail if loaded (else None, and loading starts): zoomed in far enough that
        # few points are on screen, the pictures themselves are drawn.
        self.thumbnail_for: Optional[Callable[[int], Optional[QPixmap]]] = None
        self.placeholder = "No map yet: index some pictures, then Refresh."  # drawn while there are no points

    # -- data -----------------------------------------------------------------------------------

    def set_placeholder(self, text: str) -> None:
        """What the empty canvas says (drawing, or why there is nothing to draw)."""
        self.placeholder = text
        self.update()

    def set_points(self, xy: np.ndarray, categories: Optional[np.ndarray] = None) -> None:
        self.xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
        self.set_categories(categories)
        self.selection = np.empty(0, dtype=np.int64)
        self.reset_view()

    def set_categories(self, categories: Optional[np.ndarray]) -> None:
        """Category per point (-1: none), coloured from the palette."""
        self.categories = (np.full(len(self.xy), -1, dtype=np.int64) if categories is None
                           else np.asarray(categories, dtype=np.int64))
        self.update()

    def reset_view(self) -> None:
        self.zoom = 1.0
        if len(self.xy):
            lo, hi = self.xy.min(axis=0), self.xy.max(axis=0)
            self.centre = (lo + hi).astype(np.float64) / 2
            self._extent = float(max(hi[0] - lo[0], hi[1] - lo[1], 1e-6))
        else:
            self.centre, self._extent = np.zeros(2), 1.0
        self.update()

    # -- geometry -------------------------------------------------------------------------------

    def _scale(self) -> float:
        side = min(self.width(), self.height()) * (1 - 2 * MARGIN)
        return side / getattr(self, "_extent", 1.0) * self.zoom

    def to_screen(self, xy: np.ndarray) -> np.ndarray:
        scale = self._scale()
        screen = (xy - self.centre) * scale
        screen[:, 1] *= -1  # y up
        return screen + np.array([self.width() / 2, self.height() / 2])

    def to_data(self, point: QPointF) -> np.ndarray:
        scale = self._scale()
        x = (point.x() - self.width() / 2) / scale + self.centre[0]
        y = -(point.y() - self.height() / 2) / scale + self.centre[1]
        return np.array([x, y])

    def row_at(self, point: QPointF) -> int:
        if not len(self.xy):
            return -1
        screen = self.to_screen(self.xy)
        distance = np.hypot(screen[:, 0] - point.x(), screen[:, 1] - point.y())
        row = int(np.argmin(distance))
        return row if distance[row] <= HOVER_PIXELS else -1

    # -- painting -------------------------------------------------------------------------------

    def colours(self) -> np.ndarray:
        known = self.categories >= 0
        out = np.empty((len(self.xy), 3), dtype=np.uint8)
        out[known] = PALETTE[self.categories[known] % len(PALETTE)]
        out[~known] = NO_CATEGORY
        return out

    def render_points(self) -> QImage:
        width, height = max(1, self.width()), max(1, self.height())
        buffer = np.zeros((height, width, 4), dtype=np.uint8)
        base = self.palette().color(QPalette.ColorRole.Base)  # the theme's background for content
        buffer[..., :3] = (base.blue(), base.green(), base.red())  # BGRA in memory (Format_ARGB32)
        buffer[..., 3] = 255
        if len(self.xy):
            screen = self.to_screen(self.xy).astype(np.int64)
            colours = self.colours()
            dot = dot_size(len(self.xy), self.zoom)
            for dx in range(dot):
                for dy in range(dot):
                    x, y = screen[:, 0] + dx - dot // 2, screen[:, 1] + dy - dot // 2
                    on = (x >= 0) & (x < width) & (y >= 0) & (y < height)
                    buffer[y[on], x[on], :3] = colours[on][:, ::-1]  # BGRA in memory (Format_ARGB32)
        image = QImage(buffer.data, width, height, width * 4, QImage.Format.Format_ARGB32)
        return image.copy()  # own the pixels: the numpy buffer goes away

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.drawImage(0, 0, self.render_points())
        self._draw_thumbnails(painter)
        ink = self.palette().color(QPalette.ColorRole.Text)  # marks that read on the light and the dark theme
        if len(self.selection):
            painter.setPen(QPen(ink, 1.5))
            for x, y in self.to_screen(self.xy[self.selection[:2000]]):
                painter.drawEllipse(QPointF(x, y), 3, 3)
        if self.hover_row >= 0:
            x, y = self.to_screen(self.xy[[self.hover_row]])[0]
            painter.setPen(QPen(ink, 2))
            painter.drawEllipse(QPointF(x, y), 6, 6)
        if len(self._lasso) > 1:
            painter.setPen(QPen(QColor(20, 90, 200), 1.5, Qt.PenStyle.DashLine))
            painter.drawPolyline(QPolygonF(self._lasso))
        if not len(self.xy):
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
        painter.end()

    def visible_rows(self) -> np.ndarray:
        if not len(self.xy):
            return np.empty(0, dtype=np.int64)
        screen = self.to_screen(self.xy)
        return np.flatnonzero((screen[:, 0] >= 0) & (screen[:, 0] < self.width())
                              & (screen[:, 1] >= 0) & (screen[:, 1] < self.height()))

    def shows_thumbnails(self) -> bool:
        return (self.thumbnail_for is not None and self.zoom >= THUMBNAILS_FROM_ZOOM
                and 0 < len(self.visible_rows()) <= THUMBNAILS_UP_TO)

    def _draw_thumbnails(self, painter: QPainter) -> None:
        if not self.shows_thumbnails():
            return
        rows = self.visible_rows()
        colours = self.colours()
        for row, (x, y) in zip(rows.tolist(), self.to_screen(self.xy[rows])):
            pixmap = self.thumbnail_for(row)
            if pixmap is None or pixmap.isNull():
                continue
            small = pixmap.scaled(THUMBNAIL_PIXELS, THUMBNAIL_PIXELS, Qt.AspectRatioMode.KeepAspectRatio,
                                  Qt.TransformationMode.SmoothTransformation)
            left, top = int(x - small.width() / 2), int(y - small.height() / 2)
            painter.fillRect(left - FRAME_PIXELS, top - FRAME_PIXELS, small.width() + 2 * FRAME_PIXELS,
                             small.height() + 2 * FRAME_PIXELS, QColor(*(int(v) for v in colours[row])))
            painter.drawPixmap(left, top, small)

    # -- interaction ----------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt API
        before = self.to_data(event.position())
        self.zoom = float(np.clip(self.zoom * (1.25 if event.angleDelta().y() > 0 else 0.8), 0.5, 500.0))
        after = self.to_data(event.position())
        self.centre += before - after  # keep the point under the pointer in place
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._lasso = [event.position()]
        else:
            self._drag = event.position()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if self._lasso:
            self._lasso.append(event.position())
            self.update()
            return
        if self._drag is not None:
            delta = event.position() - self._drag
            self._drag = event.position()
            scale = self._scale()
            self.centre -= np.array([delta.x() / scale, -delta.y() / scale])
            self.update()
            return
        row = self.row_at(event.position())
        if row != self.hover_row:
            self.hover_row = row
            self.hovered.emit(row)
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if self._lasso:
            polygon = np.array([[p.x(), p.y()] for p in self._lasso])
            self._lasso = []
            self.select_polygon(polygon)
        self._drag = None

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        row = self.row_at(event.position())
        if row >= 0:
            self.activated.emit(row)

    def select_polygon(self, polygon: np.ndarray) -> None:
        """Select the points inside a polygon given in widget pixels."""
        if len(polygon) >= 3 and len(self.xy):
            self.selection = np.flatnonzero(point_in_polygon(self.to_screen(self.xy), polygon))
        else:
            self.selection = np.empty(0, dtype=np.int64)
        self.update()
        self.selected.emit(self.selection)
