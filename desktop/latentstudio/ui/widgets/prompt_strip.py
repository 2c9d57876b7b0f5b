"""A strip of the library pictures nearest to the prompt being typed.

Typing restarts a short timer; when it fires, one INTERACTIVE search job is queued (the same
query path as the Search page) and its hits come back through the event bridge; thumbnails are
made off the GUI thread. The strip shows pictures by how well they match the words as pictures,
best first: a file-name match (which the search returns whatever its picture score, often below
zero) takes its place by that score, and degenerate pictures (a 1×1 tile, a thin strip), which
say nothing at thumbnail size, are left out. Answers to
an older text are dropped, so the strip never shows
pictures for words already changed, and nothing here ever waits: typing is never blocked.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QLabel, QListView, QListWidget, QListWidgetItem, QVBoxLayout, QWidget
from shiboken6 import isValid

from ...context import ContextClosed
from ...engine import EventKind, JobEvent
from ...library import SearchRequest, submit_search
from ...models import MissingModelError
from ..background import run_in_background
from ..bridge import EventBridge
from .image_gallery import thumbnail_for

log = logging.getLogger(__name__)

DEBOUNCE_MS = 350
STRIP_LIMIT = 8
STRIP_THUMB = 48
MIN_CHARS = 3
MIN_SIDE = 16  # pixels: smaller pictures are no tiles to show
PATH_ROLE = Qt.ItemDataRole.UserRole


class PromptStrip(QWidget):
    initRequested = Signal(object)  # Path: use as the init image (a click)
    openRequested = Signal(object)  # Path: open it (a double click)

    def __init__(self, ctx: Any, bridge: EventBridge, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.ctx = ctx
        self.bridge = bridge
        self.searches = 0  # queued so far (for tests and the status line)
        self._wanted = ""  # the text the strip should show pictures for
        self.list = QListWidget()
        self.list.setObjectName("prompt-strip")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setIconSize(QSize(STRIP_THUMB, STRIP_THUMB))
        self.list.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setFixedHeight(STRIP_THUMB + 44)  # thumbnail, score line, horizontal scroll bar
        self.list.setToolTip("Library pictures nearest to the prompt: click to use one as the init image, "
                             "double-click to open it")
        self.list.itemClicked.connect(lambda item: self.initRequested.emit(Path(item.data(PATH_ROLE))))
        self.list.itemDoubleClicked.connect(lambda item: self.openRequested.emit(Path(item.data(PATH_ROLE))))
        self.note = QLabel()
        self.note.setObjectName("prompt-strip-note")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addWidget(self.note)
        self.list.setVisible(False)  # until there are pictures to show
        self.note.setVisible(False)  # until there is something to say
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._search)

    def text_changed(self, text: str) -> None:
        """Called on every keystroke: only restarts the timer."""
        self._wanted = " ".join(text.split())
        self._timer.start()

    def paths(self) -> list[Path]:
        return [Path(self.list.item(i).data(PATH_ROLE)) for i in range(self.list.count())]

    def _search(self) -> None:
        text = self._wanted
        if len(text) < MIN_CHARS or self.ctx.registry.default("clip") is None:
            self.list.clear()
            self.list.setVisible(False)
            self.note.setVisible(False)
            return
        # Asks for more than it shows: degenerate pictures are left out afterwards.
        request = SearchRequest(text=text, limit=STRIP_LIMIT * 2, min_score=-1.0)
        try:
            handle = submit_search(self.ctx, request)
        except (ValueError, MissingModelError) as exc:
            self.note.setText(str(exc))
            self.note.setVisible(True)
            return
        except ContextClosed:  # the typing pause ended as the window closed
            return
        self.searches += 1
        self.bridge.watch(handle, lambda event, text=text: self._answered(event, text))

    def _answered(self, event: JobEvent, text: str) -> None:
        if event.kind is EventKind.FAILED:
            log.info("prompt strip search failed: %s", event.payload)
        if event.kind is not EventKind.FINISHED or text != self._wanted:
            return  # an older text's answer: the words have changed since
        hits = shown_hits(list(event.payload))
        run_in_background(lambda: [(h.path, h.score, thumbnail_for(h.path, STRIP_THUMB)) for h in hits],
                          lambda shown, text=text: self._show(shown, text))

    def _show(self, shown: list[tuple[Path, float, Any]], text: str) -> None:
        if not isValid(self.list) or text != self._wanted:
            return
        self.list.clear()
        for path, score, thumbnail in shown:
            item = QListWidgetItem(QIcon(QPixmap.fromImage(thumbnail)), f"{score:.2f}")
            item.setData(PATH_ROLE, str(path))
            item.setToolTip(f"{path.name} · similarity {score:.3f}")
            self.list.addItem(item)
        self.list.setVisible(bool(shown))
        self.note.setVisible(not shown)  # the pictures say it themselves; the form stays short
        self.list.setToolTip(f"{len(shown)} library pictures like “{text[:40]}”: click one to use it as the "
                             "init image, double-click to open it")
        if not shown:
            self.note.setText("No library pictures yet: add folders on the Search page.")


def shown_hits(hits: list) -> list:
    """The hits worth a tile, best picture score first, at most STRIP_LIMIT."""
    def degenerate(hit) -> bool:
        return hit.width is not None and hit.height is not None and min(hit.width, hit.height) < MIN_SIDE

    return sorted((h for h in hits if not degenerate(h)), key=lambda h: -h.score)[:STRIP_LIMIT]
