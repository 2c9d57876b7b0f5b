"""The Map page: every picture on one plane, coloured by theme, tag, folder or photo/generated;
hover shows the picture and its name; a lasso selection shows as results below the map.

The map follows the library: when an index, folder or tag job ends (the bridge's one event
stream), it is brought up to date (incrementally) at once if the page is shown, else when it is
next shown."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...engine import EventKind, JobEvent, JobHandle
from ...library import SearchHit
from ...library.analysis.service import MapPoints, submit_map
from ...library.controller import FOLDER
from ...library.thumbnails import existing_thumbnail
from ...units import counted
from ..file_actions import open_file
from ..widgets.map_canvas import PALETTE, MapCanvas
from ..widgets.search_results import ICON_SIZE, SearchResultsModel, SearchResultsView
from ..widgets.thumbnail_loader import ThumbnailLoader
from .needs_model import NeedsModelPage

log = logging.getLogger(__name__)

COLOUR_BY = ("theme", "tag", "folder", "photo or generated")
SELECTION_LIMIT = 2000
PREVIEW_SIZE = 180
RESULT_ICON = 96  # the selection's thumbnails: small enough that a whole row fits under the map
FOLLOWS = ("index", FOLDER, "tags")  # jobs whose end changes what the map shows


class MapPage(NeedsModelPage):
    kind = "clip"

    def build_content(self) -> QWidget:
        self.points: Optional[MapPoints] = None
        self._handle: Optional[JobHandle] = None
        self._stale = False  # the library changed since the map was drawn
        self.canvas = MapCanvas()
        self.colour_by = QComboBox()
        self.colour_by.addItems([f"Colour by {c}" for c in COLOUR_BY])
        self.colour_by.setToolTip("What the point colours show")
        self.refresh_button = QPushButton("Refresh map")
        self.refresh_button.setToolTip("Lay out new pictures (the first map takes longer; it runs in the background)")
        self.status = QLabel("The map has not been drawn yet.")
        self.status.setObjectName("map-status")
        self.status.setWordWrap(True)
        self.legend = QLabel("")
        self.legend.setObjectName("map-legend")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.preview = QLabel("Point at a picture to see it")
        self.preview.setObjectName("map-preview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setWordWrap(True)
        self.preview.setMinimumSize(PREVIEW_SIZE, PREVIEW_SIZE)
        self.preview_name = QLabel("")
        self.preview_name.setObjectName("map-preview-name")
        self.preview_name.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.preview_name.setWordWrap(True)
        self.loader = ThumbnailLoader(size=ICON_SIZE, parent=self)
        self.results_model = SearchResultsModel(self.loader, self)
        self.results = SearchResultsView()
        self.results.setModel(self.results_model)
        self.results.set_thumbnail_size(RESULT_ICON)
        # One whole row of results always fits: the splitter never cuts the thumbnails.
        self.results.setMinimumHeight(self.results.gridSize().height() + 2 * self.results.frameWidth() + 8)
        self.results.setToolTip("The pictures in the region you selected (Shift+drag on the map)")
        self.results.setPlaceholderText("Shift+drag over a region of the map to see its pictures here.")

        bar = QHBoxLayout()
        bar.addWidget(self.colour_by)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.status, 1)
        side = QVBoxLayout()
        side.addWidget(self.preview)
        side.addWidget(self.preview_name)
        side.addWidget(self.legend, 1)
        top = QWidget()
        top_layout = QHBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.canvas, 1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setFixedWidth(PREVIEW_SIZE + 40)
        top_layout.addWidget(side_widget)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.results)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

        self.refresh_button.clicked.connect(self.refresh)
        self.colour_by.currentIndexChanged.connect(lambda _: self._recolour())
        self.canvas.hovered.connect(self._hover)
        self.canvas.selected.connect(self._selected)
        self.canvas.activated.connect(self._open_row)
        self.canvas.thumbnail_for = self._thumbnail
        self.loader.ready.connect(lambda _: self.canvas.update())
        self.results.activatedHit.connect(lambda hit: self._open(Path(hit.path)))
        self.bridge.jobEvent.connect(self._library_event)
        return content

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if (self.points is None or self._stale) and self.has_model and self._handle is None:
            self.refresh()  # the saved map (updated for new pictures) on first view

    def _library_event(self, event: JobEvent) -> None:
        """An index, folder or tag job ended: the map is out of date; drawn again now if shown."""
        handle = event.handle
        if handle is None or handle.kind not in FOLLOWS or event.kind is not EventKind.FINISHED:
            return
        self._stale = True
        if self.isVisible() and self.has_model and (self._handle is None or self._handle.done()):
            self.refresh()

    # -- the map job ----------------------------------------------------------------------------

    def refresh(self) -> None:
        if self._handle is not None and not self._handle.done():
            return
        self.bridge.start_engine()
        self._stale = False
        try:
            self._handle = submit_map(self.ctx)
        except Exception as exc:  # no model, or a newer saved file: said in words
            log.exception("map failed to start")
            self.status.setText(f"Could not draw the map: {exc}")
            return
        self.refresh_button.setEnabled(False)
        self.status.setText("Drawing the map in the background…")
        self.canvas.set_placeholder("Drawing the map…")
        self.bridge.watch(
            self._handle,
            finished=self.show_points,
            failed=self._failed,
            cancelled=lambda: self._failed(None),
            ended=self._ended,
        )

    def _failed(self, error: Optional[str]) -> None:
        """The job failed (error in words) or was cancelled (None)."""
        self.status.setText("Map stopped." if error is None else f"Could not draw the map: {error}")
        self.canvas.set_placeholder("No map: see the line above.")

    def _ended(self) -> None:
        self.refresh_button.setEnabled(True)
        if self._stale and self.isVisible():  # the library changed while this map was drawn
            self.refresh()

    def show_points(self, points: MapPoints) -> None:
        self.points = points
        self.canvas.set_points(points.layout.xy)
        self._recolour()
        if not len(points.rows):
            self.canvas.set_placeholder("No pictures on the map yet: add a folder on the Search page; the map "
                                        "draws itself when they are indexed.")
            self.status.setText("No pictures indexed yet.")
            return
        self.status.setText(f"{counted(len(points.rows), 'picture')} · {counted(len(points.themes.names), 'theme')} · "
                            f"layout: {points.layout.method}")

    # -- colours --------------------------------------------------------------------------------

    def _recolour(self) -> None:
        if self.points is None:
            return
        by = COLOUR_BY[self.colour_by.currentIndex()]
        rows = self.points.rows
        empty = "No pictures on the map yet."
        if by == "theme":
            categories, names = self.points.theme_of, self.points.themes.names
        elif by == "tag":
            first = [(self.points.tags.get(r.id) or [None])[0] if r is not None else None for r in rows]
            names = sorted({t for t in first if t})
            empty = ("No picture on the map carries a tag yet: tagging runs in the background, and the map "
                     "follows it." if self.points.tag_labels else "No tags yet: add some on the Search page, "
                     "under Tags.")
            categories = np.array([names.index(t) if t else -1 for t in first], dtype=np.int64)
        elif by == "folder":
            folders = {f.id: f.path.name or str(f.path) for f in self.ctx.library.folders()}
            ids = sorted(folders)
            names = [folders[i] for i in ids]
            categories = np.array([ids.index(r.folder_id) if r is not None and r.folder_id in folders else -1
                                   for r in rows], dtype=np.int64)
        else:
            names = ["photo", "generated"]
            categories = np.array([int(r.generated) if r is not None else -1 for r in rows], dtype=np.int64)
        self.canvas.set_categories(categories)
        counts = np.bincount(categories[categories >= 0], minlength=len(names)) if len(names) else []
        entries = [f'<span style="color: rgb{tuple(int(v) for v in PALETTE[i % len(PALETTE)])}">●</span> '
                   f"{name} ({counts[i]:,})" for i, name in enumerate(names) if counts[i]]
        self.legend.setText("<br>".join(entries[:20]) or empty)

    # -- hover, selection -----------------------------------------------------------------------

    def _row(self, row: int):
        return self.points.rows[row] if self.points is not None and 0 <= row < len(self.points.rows) else None

    def _thumbnail(self, row: int) -> Optional[QPixmap]:
        image = self._row(row)
        if image is None:
            return None
        source = existing_thumbnail(self.ctx.library.thumbnails, image.hash) or Path(image.path)
        return self.loader.pixmap(f"{image.hash}:{image.path}", source)

    def _hover(self, row: int) -> None:
        image = self._row(row)
        if image is None:
            self.preview.setPixmap(QPixmap())
            self.preview.setText("Point at a picture to see it")
            self.preview_name.setText("")
            return
        self.preview_name.setText(Path(image.path).name)
        self.preview_name.setToolTip(image.path)
        thumbnail = existing_thumbnail(self.ctx.library.thumbnails, image.hash)
        pixmap = QPixmap(str(thumbnail or image.path))
        if pixmap.isNull():
            self.preview.setText(Path(image.path).name)
        else:
            self.preview.setPixmap(pixmap.scaled(PREVIEW_SIZE, PREVIEW_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation))
        self.preview.setToolTip(image.path)

    def _selected(self, rows: np.ndarray) -> None:
        hits = []
        for row in rows[:SELECTION_LIMIT].tolist():
            image = self._row(row)
            if image is None:
                continue
            hits.append(SearchHit(path=Path(image.path), score=0.0, image_id=image.id, width=image.width,
                                  height=image.height, taken=image.taken, size=image.size, format=image.format,
                                  content_hash=image.hash,
                                  thumbnail=existing_thumbnail(self.ctx.library.thumbnails, image.hash),
                                  generated=image.generated, prompt=image.prompt,
                                  tags=tuple(self.points.tags.get(image.id, ()))))
        self.results_model.set_hits(hits)
        more = f" (showing {SELECTION_LIMIT:,})" if len(rows) > SELECTION_LIMIT else ""
        self.status.setText(f"{counted(len(rows), 'picture')} selected{more}")

    def _open_row(self, row: int) -> None:
        image = self._row(row)
        if image is not None:
            self._open(Path(image.path))

    def _open(self, path: Path) -> None:
        problem = open_file(path)
        if problem:
            self.status.setText(problem)
