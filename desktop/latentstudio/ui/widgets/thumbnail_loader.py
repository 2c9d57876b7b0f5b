"""Load thumbnails off the GUI thread and keep the recent ones in memory.

Worker threads only produce QImages (safe outside the GUI thread); pixmaps are made when
they reach the GUI thread. Only the items the view asks for are loaded, so a grid of
100,000 results reads just the thumbnails on screen.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap

from ...library.decode import DecodeError, decode_image

CACHE_ITEMS = 1500


class _Relay(QObject):
    loaded = Signal(str, QImage)


MakeThumbnail = Callable[[Path], Optional[Path]]  # an original → its cached thumbnail, made if missing


def decoded_image(path: Path, size: int) -> QImage:
    """A picture read as the library reads it (EXIF orientation, HEIC/AVIF, any mode), at most
    `size` pixels a side; DecodeError when it cannot be. QImage, unlike QPixmap, may be made
    off the GUI thread."""
    picture = decode_image(path, min_side=size).image
    picture.thumbnail((size, size))
    data = picture.tobytes()
    return QImage(data, picture.width, picture.height, 3 * picture.width, QImage.Format.Format_RGB888).copy()


class _Load(QRunnable):
    def __init__(self, key: str, source: Path, size: int, relay: _Relay, make: Optional[MakeThumbnail]):
        super().__init__()
        self.key, self.source, self.size, self.relay, self.make = key, source, size, relay, make

    def run(self) -> None:
        source = self.source
        if self.make is not None:  # originals without a cached thumbnail get one, once
            source = self.make(source) or source
        reader = QImageReader(str(source))
        reader.setAutoTransform(True)  # originals: honour EXIF orientation
        original = reader.size()
        if original.isValid() and max(original.width(), original.height()) > self.size:
            reader.setScaledSize(original.scaled(QSize(self.size, self.size), Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        if image.isNull():  # a format Qt does not read (HEIC, AVIF): through the library's decoder
            try:
                image = decoded_image(source, self.size)
            except DecodeError:
                pass
        try:
            self.relay.loaded.emit(self.key, image)
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
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)

    def pixmap(self, key: str, source: Optional[Path]) -> Optional[QPixmap]:
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        if source is not None and key not in self._loading:
            self._loading.add(key)
            self._pool.start(_Load(key, source, self.size, self._relay, self.make))
        return None

    def _loaded(self, key: str, image: QImage) -> None:
        self._loading.discard(key)
        if image.isNull():
            return
        self._cache[key] = QPixmap.fromImage(image)
        while len(self._cache) > CACHE_ITEMS:
            self._cache.popitem(last=False)
        self.ready.emit(key)
