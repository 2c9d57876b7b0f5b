"""The results grid: a list model of search hits shown by a virtualised icon-mode QListView."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from ...library import SearchHit
from .empty_state import EmptyStateListView
from .thumbnail_grid import FillingGridMixin
from .thumbnail_loader import ThumbnailLoader

HitRole = Qt.ItemDataRole.UserRole + 1
ICON_SIZE = 160
TAG_CHIPS = 3
Index = QModelIndex | QPersistentModelIndex


MATCHED = {
    "picture": "matched by its picture",
    "words": "matched by its words (file name, prompt or description)",
    "both": "matched by its picture and its words",
}


def describe(hit: SearchHit) -> str:
    lines = [str(hit.path), f"score {hit.score:.3f} · {MATCHED.get(hit.matched, hit.matched)}"]
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
    words = "" if hit.matched == "picture" else f"{hit.matched} · "
    text = f"{words}{hit.score:.2f} · {hit.path.name}"
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


class SearchResultsView(FillingGridMixin, EmptyStateListView):
    """Icon grid; only visible rows are asked for data, so large result sets scroll smoothly."""

    text_height = 56  # two lines of text: name, tags

    activatedHit = Signal(object)  # SearchHit

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("search-results")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.set_thumbnail_size(ICON_SIZE)
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.doubleClicked.connect(self._activated)

    def _activated(self, index: QModelIndex) -> None:
        hit = index.data(HitRole)
        if hit is not None:
            self.activatedHit.emit(hit)

    def selected_hits(self) -> list[SearchHit]:
        return [i.data(HitRole) for i in self.selectedIndexes() if i.data(HitRole) is not None]

