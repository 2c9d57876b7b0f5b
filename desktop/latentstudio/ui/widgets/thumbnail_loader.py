"""Load thumbnails off the GUI thread and keep the recent ones in memory.

Worker threads only produce QImages (safe outside the GUI thread); pixmaps are made when
they reach the GUI thread. Only the items the view asks for are loaded, so a grid of
100,000 results reads just the thumbnails on screen.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap

CACHE_ITEMS = 1500


class _Relay(QObject):
    loaded = Signal(str, QImage)


MakeThumbnail = Callable[[Path], Optional[Path]]  # an original → its cached thumbnail, made if missing


WORKERS = 2
IDLE_EXIT_S = 0.5  # a worker with nothing to load ends: no thread outlives the grid's work


def _load(source: Path, size: int, make: Optional[MakeThumbnail]) -> QImage:
    if make is not None:  # originals without a cached thumbnail get one, once
        source = make(source) or source
    reader = QImageReader(str(source))
    reader.setAutoTransform(True)  # originals: honour EXIF orientation
    original = reader.size()
    if original.isValid() and max(original.width(), original.height()) > size:
        reader.setScaledSize(original.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


class _Workers:
    """Up to WORKERS plain Python threads taking loads from a queue (Python subclasses of
    QRunnable are not used: Qt deletes a finished runnable on its worker thread). They hold
    no reference to the loader, only to its relay, whose signal they may find deleted."""

    def __init__(self, relay: _Relay, size: int, make: Optional[MakeThumbnail]):
        self.relay, self.size, self.make = relay, size, make
        self.queue: "queue.Queue[tuple[str, Path]]" = queue.Queue()
        self.lock = threading.Lock()
        self.running = 0

    def put(self, key: str, source: Path) -> None:
        self.queue.put((key, source))
        with self.lock:
            if self.running >= WORKERS:
                return
            self.running += 1
        threading.Thread(target=self._work, name="latent-thumbnails", daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                key, source = self.queue.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self.lock:
                    if self.queue.empty():
                        self.running -= 1
                        return
                continue
            image = _load(source, self.size, self.make)
            try:
                self.relay.loaded.emit(key, image)
            except RuntimeError:  # the page was closed while this ran
                pass


class ThumbnailLoader(QObject):
    """`pixmap(key, source)` returns a cached pixmap or None and starts loading it."""

    ready = Signal(str)

    def __init__(self, size: int = 256, parent: Optional[QObject] = None, make: Optional[MakeThumbnail] = None):
        super().__init__(parent)
        self.size = size
        self.make = make
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._loading: set[str] = set()
        self._relay = _Relay(self)
        self._relay.loaded.connect(self._loaded)
        self._workers = _Workers(self._relay, size, make)

    def pixmap(self, key: str, source: Optional[Path]) -> Optional[QPixmap]:
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        if source is not None and key not in self._loading:
            self._loading.add(key)
            self._workers.put(key, source)
        return None

    def _loaded(self, key: str, image: QImage) -> None:
        self._loading.discard(key)
        if image.isNull():
            return
        self._cache[key] = QPixmap.fromImage(image)
        while len(self._cache) > CACHE_ITEMS:
            self._cache.popitem(last=False)
        self.ready.emit(key)
