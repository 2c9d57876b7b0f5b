"""The results grid: a list model of search hits shown by a virtualised icon-mode QListView."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from PySide6.QtCore import QAbstractListModel, QEvent, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionFocusRect,
    QStyleOptionViewItem,
    QWidget,
)

from ...library import SearchHit
from ...library.search import LISTED
from ...units import format_duration
from .empty_state import EmptyStateListView
from .thumbnail_grid import FillingGridMixin
from .thumbnail_loader import ThumbnailLoader

HitRole = Qt.ItemDataRole.UserRole + 1
ICON_SIZE = 160
TAG_CHIPS = 3
CAPTION_LINES = 2  # score and name; the tags (empty when it has none): every cell has room for both
PADDING = 4  # around the picture and the caption, inside a cell
Index = QModelIndex | QPersistentModelIndex


MATCHED = {
    "picture": "matched by its picture",
    "words": "matched by its words (file name, prompt or description)",
    "both": "matched by its picture and its words",
}


KINDS = {  # what a result is, said before its name; photos and generated pictures say nothing
    "video": "▶ video",
    "raw": "RAW",
    "raw+jpeg": "RAW+JPEG",
    "live": "Live Photo",
}


def kind_text(hit: SearchHit) -> str:
    """`▶ 0:04` for a video found at a moment, else what it is (RAW, RAW+JPEG, Live Photo), or ""."""
    if hit.kind == "video" and hit.time is not None:
        return f"▶ {format_duration(hit.time)}"
    return KINDS.get(hit.kind, "")


def describe(hit: SearchHit) -> str:
    lines = [str(hit.path)]
    if hit.matched != LISTED:
        lines.append(f"score {hit.score:.3f} · {MATCHED.get(hit.matched, hit.matched)}")
    if hit.kind == "video":
        length = f"{format_duration(hit.duration)} long" if hit.duration else "video"
        length += f", {hit.codec}" if hit.codec else ""
        moment = f" · best moment at {format_duration(hit.time)}" if hit.time is not None else ""
        lines.append(f"video, {length}{moment} (Open starts there where the player allows)")
    elif hit.companion is not None:
        what = "Live Photo, with its video" if hit.kind == "live" else "shot as RAW+JPEG, with the RAW file"
        lines.append(f"{what} {hit.companion.name}")
    if hit.rating:
        lines.append("rated " + ("rejected" if hit.rating < 0 else "★" * hit.rating + "☆" * (5 - hit.rating)))
    if hit.width and hit.height:
        lines.append(f"{hit.width}×{hit.height} {hit.format or ''}".strip())
    if hit.taken:
        lines.append(f"taken {datetime.fromtimestamp(hit.taken):%Y-%m-%d %H:%M}")
    if hit.generated and hit.prompt:
        lines.append(f"generated: {hit.prompt}")
    if hit.tags:
        lines.append("tags: " + ", ".join(hit.tags) + " (right-click to confirm or reject)")
    return "\n".join(lines)


def label(hit: SearchHit) -> str:
    """Why it matched (when not the picture alone), score and name; the first tags as chips on a
    second line."""
    kind = f"{kind_text(hit)} · " if kind_text(hit) else ""
    if hit.matched == LISTED:  # no query, no score: when it was taken (else changed) shows instead
        text = kind + (f"{datetime.fromtimestamp(hit.taken):%Y-%m-%d} · {hit.path.name}" if hit.taken else hit.path.name)
    else:
        words = "" if hit.matched == "picture" else f"{hit.matched} · "
        text = f"{words}{kind}{hit.score:.2f} · {hit.path.name}"
    if hit.tags:
        text += "\n" + " ".join(f"#{tag}" for tag in hit.tags[:TAG_CHIPS])
    return text


class SearchResultsModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailLoader, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.hits: list[SearchHit] = []
        self._row_of: dict[str, int] = {}
        self.loader = loader
        loader.ready.connect(self._thumbnail_ready)
        placeholder = QPixmap(ICON_SIZE, ICON_SIZE)
        placeholder.fill(QColor(128, 128, 128, 60))
        self._placeholder = placeholder

    def set_hits(self, hits: list[SearchHit]) -> None:
        self.beginResetModel()
        self.hits = list(hits)
        self._row_of = {self._key(hit): row for row, hit in enumerate(self.hits)}
        self.endResetModel()

    @staticmethod
    def _key(hit: SearchHit) -> str:
        return f"{hit.content_hash or ''}:{hit.path}"

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self.hits)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.hits):
            return None
        hit = self.hits[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return label(hit)
        if role == Qt.ItemDataRole.DecorationRole:
            source = hit.thumbnail if hit.thumbnail is not None else hit.path
            return self.loader.pixmap(self._key(hit), source) or self._placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            return describe(hit)
        if role == HitRole:
            return hit
        return None

    def hit(self, row: int) -> SearchHit:
        return self.hits[row]

    def _thumbnail_ready(self, key: str) -> None:
        row = self._row_of.get(key)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class ResultDelegate(QStyledItemDelegate):
    """Draws a result in its grid cell: the picture scaled to fit the thumbnail size (never
    cropped), and under it the caption's lines, each on one line, elided only when too wide.

    Every cell has the same size hint, the view's grid cell: the view caches one row's hint for
    all rows (uniformItemSizes), so a hint that followed a row's caption or picture gave every
    cell of the next answer that row's size (pictures cut to strips, captions gone)."""

    def __init__(self, view: "SearchResultsView"):
        super().__init__(view)
        self._view = view

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802 - Qt API
        return self._view.cell_size()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.showDecorationSelected = True  # the whole cell shows it is selected (the style's own text rect is not ours)
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:  # background, hover, selection and keyboard focus as the style draws them
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, widget)
            if opt.state & QStyle.StateFlag.State_HasFocus:
                focus = QStyleOptionFocusRect()
                focus.rect, focus.palette, focus.state = opt.rect, opt.palette, opt.state | QStyle.StateFlag.State_Item
                style.drawPrimitive(QStyle.PrimitiveElement.PE_FrameFocusRect, focus, painter, widget)
        thumbnail = self._view.iconSize().width()
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        painter.save()
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(picture_rect(opt.rect, thumbnail, pixmap), pixmap)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        painter.setPen(opt.palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        painter.setFont(opt.font)
        metrics = opt.fontMetrics
        lines = caption_lines(index.data(Qt.ItemDataRole.DisplayRole) or "", metrics, opt.rect.width() - 2 * PADDING)
        for line, rect in zip(lines, caption_rects(opt.rect, thumbnail, metrics.lineSpacing())):
            painter.drawText(rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, line)
        painter.restore()


def picture_rect(cell: QRect, thumbnail: int, pixmap: QPixmap) -> QRect:
    """Where the picture is drawn: centred in the thumbnail square at the top of the cell, scaled
    down to fit it whole (small pictures keep their size)."""
    size = pixmap.deviceIndependentSize().toSize()
    if size.width() > thumbnail or size.height() > thumbnail:
        size = size.scaled(thumbnail, thumbnail, Qt.AspectRatioMode.KeepAspectRatio)
    left = cell.left() + (cell.width() - size.width()) // 2
    top = cell.top() + PADDING + (thumbnail - size.height()) // 2
    return QRect(left, top, size.width(), size.height())


def caption_rects(cell: QRect, thumbnail: int, line_height: int) -> list[QRect]:
    top = cell.top() + 2 * PADDING + thumbnail
    return [QRect(cell.left() + PADDING, top + i * line_height, cell.width() - 2 * PADDING, line_height)
            for i in range(CAPTION_LINES)]


def caption_lines(text: str, metrics: QFontMetrics, width: int) -> list[str]:
    """The caption's lines as drawn: the first (score and name) elided in the middle, so the
    start and the file's extension show; the tags elided at the end."""
    lines = text.split("\n")[:CAPTION_LINES]
    modes = (Qt.TextElideMode.ElideMiddle, Qt.TextElideMode.ElideRight)
    return [metrics.elidedText(line, modes[min(i, 1)], width) for i, line in enumerate(lines)]


class SearchResultsView(FillingGridMixin, EmptyStateListView):
    """Icon grid; only visible rows are asked for data, so large result sets scroll smoothly."""

    activatedHit = Signal(object)  # SearchHit

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("search-results")
        self.setItemDelegate(ResultDelegate(self))
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.set_thumbnail_size(ICON_SIZE)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.doubleClicked.connect(self._activated)

    @property
    def text_height(self) -> int:  # type: ignore[override] - the caption's lines in this font
        return CAPTION_LINES * self.fontMetrics().lineSpacing() + 3 * PADDING

    def cell_size(self) -> QSize:
        """Each result's size: its grid cell, less a gap between neighbours."""
        grid = self.gridSize()
        return QSize(max(1, grid.width() - PADDING), grid.height())

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt API
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self.fit_grid()

    def _activated(self, index: QModelIndex) -> None:
        hit = index.data(HitRole)
        if hit is not None:
            self.activatedHit.emit(hit)

    def selected_hits(self) -> list[SearchHit]:
        return [i.data(HitRole) for i in self.selectedIndexes() if i.data(HitRole) is not None]

