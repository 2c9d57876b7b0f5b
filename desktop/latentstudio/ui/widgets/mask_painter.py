"""Paint what to repaint: a mask brush over the init image, and the canvas's edges dragged out
for outpainting.

The mask is kept at the picture's own size (white repaints), whatever the zoom; the border added
for outpainting is shown around the picture and is repainted whole. `[` and `]` change the brush
size, the right mouse button (or Eraser) erases, and the edges of the canvas drag outwards in
steps of 8 pixels, as the models need.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

SIDES = ("left", "top", "right", "bottom")
EDGE_GRAB = 10  # screen pixels from a canvas edge that start an outpaint drag
MAX_OUTPAINT = 2048
MASK_COLOUR = QColor(255, 60, 60)
MASK_OPACITY = 0.5


@dataclass(frozen=True)
class PaintedMask:
    """What the dialog hands back: the saved mask and how to use it."""

    mask: Optional[Path]  # None when only the canvas was extended
    blur: int
    masked_only: bool
    outpaint: tuple[int, int, int, int]  # left, top, right, bottom (pixels)


class MaskCanvas(QWidget):
    """The picture with its mask over it, painted with the mouse."""

    changed = Signal()
    brushChanged = Signal(int)

    def __init__(self, picture: QImage, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.picture = picture.convertToFormat(QImage.Format.Format_RGB32)
        self.mask = QImage(self.picture.size(), QImage.Format.Format_Grayscale8)
        self.mask.fill(0)
        self.brush = max(8, min(self.picture.width(), self.picture.height()) // 12)
        self.erasing = False
        self.outpaint = [0, 0, 0, 0]
        self._stroke: Optional[QPointF] = None  # last point of the stroke (picture pixels)
        self._stroke_erases = False
        self._dragging: Optional[int] = None  # index into SIDES while an edge is dragged
        self._pointer: Optional[QPointF] = None
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(240, 180)

    # -- geometry ---------------------------------------------------------------------------

    def canvas_size(self) -> QSize:
        left, top, right, bottom = self.outpaint
        return QSize(self.picture.width() + left + right, self.picture.height() + top + bottom)

    def _scale(self) -> float:
        canvas = self.canvas_size()
        return min((self.width() - 2 * EDGE_GRAB) / canvas.width(), (self.height() - 2 * EDGE_GRAB) / canvas.height())

    def _canvas_rect(self) -> QRectF:
        canvas, scale = self.canvas_size(), self._scale()
        w, h = canvas.width() * scale, canvas.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def _picture_rect(self) -> QRectF:
        rect, scale = self._canvas_rect(), self._scale()
        left, top = self.outpaint[0], self.outpaint[1]
        return QRectF(rect.x() + left * scale, rect.y() + top * scale,
                      self.picture.width() * scale, self.picture.height() * scale)

    def to_picture(self, point: QPointF) -> QPointF:
        """A widget point in the picture's own pixels."""
        rect, scale = self._picture_rect(), self._scale()
        return QPointF((point.x() - rect.x()) / scale, (point.y() - rect.y()) / scale)

    def _edge_at(self, point: QPointF) -> Optional[int]:
        rect = self._canvas_rect()
        inside_y = rect.top() - EDGE_GRAB <= point.y() <= rect.bottom() + EDGE_GRAB
        inside_x = rect.left() - EDGE_GRAB <= point.x() <= rect.right() + EDGE_GRAB
        distances = {
            0: abs(point.x() - rect.left()) if inside_y else None,
            1: abs(point.y() - rect.top()) if inside_x else None,
            2: abs(point.x() - rect.right()) if inside_y else None,
            3: abs(point.y() - rect.bottom()) if inside_x else None,
        }
        near = [(d, side) for side, d in distances.items() if d is not None and d <= EDGE_GRAB]
        return min(near)[1] if near else None

    # -- the mask -----------------------------------------------------------------------------

    def has_mask(self) -> bool:
        bits = self.mask.constBits()
        return any(bytes(bits))

    def clear(self) -> None:
        self.mask.fill(0)
        self.changed.emit()
        self.update()

    def invert(self) -> None:
        self.mask.invertPixels()
        self.changed.emit()
        self.update()

    def set_brush(self, size: int) -> None:
        self.brush = max(1, min(1024, int(size)))
        self.brushChanged.emit(self.brush)
        self.update()

    def set_outpaint(self, side: int, pixels: int) -> None:
        self.outpaint[side] = max(0, min(MAX_OUTPAINT, int(pixels) // 8 * 8))
        self.changed.emit()
        self.update()

    def _paint_to(self, point: QPointF) -> None:
        painter = QPainter(self.mask)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = QColor(0, 0, 0) if self._stroke_erases else QColor(255, 255, 255)
        painter.setPen(QPen(colour, self.brush, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                            Qt.PenJoinStyle.RoundJoin))
        if self._stroke is None:  # a click: a dot (a line of no length draws nothing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawEllipse(point, self.brush / 2, self.brush / 2)
        else:
            painter.drawLine(self._stroke, point)
        painter.end()
        self._stroke = point
        self.update()

    # -- events -------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        point = event.position()
        edge = self._edge_at(point)
        if edge is not None and event.button() == Qt.MouseButton.LeftButton:
            self._dragging = edge
            return
        self._stroke = None
        self._stroke_erases = self.erasing or event.button() == Qt.MouseButton.RightButton
        self._paint_to(self.to_picture(point))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        point = event.position()
        self._pointer = point
        if self._dragging is not None:
            self._drag_edge(self._dragging, point)
        elif event.buttons() & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
            self._paint_to(self.to_picture(point))
        else:
            edge = self._edge_at(point)
            cursor = Qt.CursorShape.CrossCursor
            if edge is not None:
                cursor = Qt.CursorShape.SizeHorCursor if edge in (0, 2) else Qt.CursorShape.SizeVerCursor
            self.setCursor(cursor)
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if self._stroke is not None:
            self.changed.emit()
        self._dragging, self._stroke = None, None

    def _drag_edge(self, side: int, point: QPointF) -> None:
        """Outpaint by the pointer's distance past the picture's edge, in picture pixels."""
        at = self.to_picture(point)
        past = (-at.x(), -at.y(), at.x() - self.picture.width(), at.y() - self.picture.height())[side]
        self.set_outpaint(side, round(past))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if event.key() == Qt.Key.Key_BracketLeft:
            self.set_brush(round(self.brush / 1.25))
        elif event.key() == Qt.Key.Key_BracketRight:
            self.set_brush(round(self.brush * 1.25) + 1)
        else:
            super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        canvas = self._canvas_rect()
        painter.fillRect(canvas, QColor(128, 128, 128, 90))  # the border that outpainting fills
        if any(self.outpaint):
            painter.setPen(QPen(self.palette().highlight().color(), 1, Qt.PenStyle.DashLine))
            painter.drawRect(canvas)
        picture = self._picture_rect()
        painter.drawImage(picture, self.picture)
        overlay = QImage(self.mask.size(), QImage.Format.Format_ARGB32)
        overlay.fill(MASK_COLOUR)
        overlay.setAlphaChannel(self.mask)  # red where painted, clear elsewhere
        painter.setOpacity(MASK_OPACITY)
        painter.drawImage(picture, overlay)
        painter.setOpacity(1.0)
        if self._pointer is not None and self._dragging is None and self._edge_at(self._pointer) is None:
            radius = self.brush * self._scale() / 2
            painter.setPen(QPen(self.palette().highlight().color(), 1))
            painter.drawEllipse(self._pointer, radius, radius)
        painter.end()

    def save_mask(self, path: Path) -> Path:
        """The mask as a PNG at the picture's size (white repaints)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.mask.save(str(path), "PNG"):
            raise OSError(f"could not write the mask to {path}")
        return path


class MaskDialog(QDialog):
    """Paint a mask over the init image and set the outpainting border; OK saves the mask."""

    def __init__(self, picture_path: Path, masks_folder: Path, blur: int = 4, masked_only: bool = False,
                 outpaint: tuple[int, int, int, int] = (0, 0, 0, 0), mask: Optional[Path] = None,
                 parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowTitle(f"Paint the mask — {picture_path.name}")
        self.picture_path = picture_path
        self.masks_folder = masks_folder
        self.result_mask: Optional[PaintedMask] = None
        picture = QImage(str(picture_path))
        if picture.isNull():
            from .thumbnail_loader import decoded_image  # HEIC, AVIF, RAW: through the library's decoder

            picture = decoded_image(picture_path, 8192)
        self.canvas = MaskCanvas(picture)
        if mask is not None and mask.is_file():
            loaded = QImage(str(mask)).convertToFormat(QImage.Format.Format_Grayscale8)
            if not loaded.isNull():
                self.canvas.mask = loaded.scaled(picture.size())
        for side, pixels in enumerate(outpaint):
            self.canvas.set_outpaint(side, pixels)

        self.brush = QSlider(Qt.Orientation.Horizontal)
        self.brush.setRange(1, 512)
        self.brush.setValue(self.canvas.brush)
        self.brush.setToolTip("Brush size in the picture's pixels ([ and ] change it)")
        self.brush.valueChanged.connect(self.canvas.set_brush)
        self.canvas.brushChanged.connect(lambda size: (self.brush.blockSignals(True), self.brush.setValue(size),
                                                       self.brush.blockSignals(False)))
        self.eraser = QPushButton("Eraser")
        self.eraser.setCheckable(True)
        self.eraser.setToolTip("Erase the mask (or paint with the right mouse button)")
        self.eraser.toggled.connect(lambda on: setattr(self.canvas, "erasing", on))
        clear = QPushButton("Clear")
        clear.setToolTip("Remove the whole mask")
        clear.clicked.connect(self.canvas.clear)
        invert = QPushButton("Invert")
        invert.setToolTip("Repaint everything but what is painted")
        invert.clicked.connect(self.canvas.invert)
        self.blur = QSpinBox()
        self.blur.setRange(0, 64)
        self.blur.setValue(blur)
        self.blur.setSuffix(" px")
        self.blur.setToolTip("Feather: how softly the repainted part blends into the picture")
        self.masked_only = QCheckBox("Repaint only the masked part")
        self.masked_only.setChecked(masked_only)
        self.masked_only.setToolTip("Generate a crop around the mask at the model's own size (more detail in a "
                                    "small area), then put it back")
        self.sides: list[QSpinBox] = []
        outpaint_row = QHBoxLayout()
        for side, name in enumerate(SIDES):
            box = QSpinBox()
            box.setRange(0, MAX_OUTPAINT)
            box.setSingleStep(64)
            box.setSuffix(" px")
            box.setValue(self.canvas.outpaint[side])
            box.setToolTip(f"Extend the canvas {'to the ' if side in (0, 2) else 'at the '}{name} (or drag that edge)")
            box.editingFinished.connect(lambda side=side, box=box: self.canvas.set_outpaint(side, box.value()))
            outpaint_row.addWidget(QLabel(name.capitalize()))
            outpaint_row.addWidget(box)
            self.sides.append(box)
        self.canvas.changed.connect(self._sync_sides)
        self.summary = QLabel()
        self.canvas.changed.connect(self._say_size)

        tools = QHBoxLayout()
        tools.addWidget(QLabel("Brush"))
        tools.addWidget(self.brush, 1)
        for button in (self.eraser, clear, invert):
            tools.addWidget(button)
        form = QFormLayout()
        form.addRow("Feather", self.blur)
        form.addRow("", self.masked_only)
        form.addRow("Outpaint", outpaint_row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(buttons)
        self._say_size()
        self.resize(900, 720)
        self.canvas.setFocus()

    def _sync_sides(self) -> None:
        for box, pixels in zip(self.sides, self.canvas.outpaint):
            if box.value() != pixels:
                box.blockSignals(True)
                box.setValue(pixels)
                box.blockSignals(False)

    def _say_size(self) -> None:
        size = self.canvas.canvas_size()
        picture = self.canvas.picture.size()
        grown = "" if size == picture else f" → {size.width()}×{size.height()} with the border"
        self.summary.setText(f"{picture.width()}×{picture.height()}{grown}. White (red here) is repainted; "
                             "[ and ] change the brush; drag an edge of the canvas to outpaint.")

    def accept(self) -> None:
        typed = [box.value() for box in self.sides]  # a value typed but not yet confirmed counts
        for side, pixels in enumerate(typed):
            self.canvas.set_outpaint(side, pixels)
        outpaint = tuple(self.canvas.outpaint)
        if not self.canvas.has_mask() and not any(outpaint):
            self.summary.setText("Paint the part to repaint, or extend the canvas, first.")
            return
        mask = None
        if self.canvas.has_mask():
            from datetime import datetime

            name = f"{self.picture_path.stem}-mask-{datetime.now():%Y%m%d-%H%M%S}.png"
            try:
                mask = self.canvas.save_mask(self.masks_folder / name)
            except OSError as exc:
                self.summary.setText(str(exc))
                return
        self.result_mask = PaintedMask(mask, self.blur.value(), self.masked_only.isChecked(), outpaint)  # type: ignore[arg-type]
        super().accept()
