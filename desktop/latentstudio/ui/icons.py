"""The window's icons: Phosphor line icons (MIT licence), drawn from the glyphs of Phosphor's icon
font in the palette's colours so they read in the light and the dark theme. Icons are drawn when
asked for, so widgets ask again when the palette changes (see `NavigationRail.changeEvent`).

The font is `resources/icons/phosphor-1.3.0-subset.ttf`: the glyphs below, cut from Phosphor 1.3.0
(see the README beside it). Drawing them here instead of through an icon-font package keeps that
package's Qt compatibility layer out of the window's start (about 0.2 s of imports).
"""

from __future__ import annotations

import functools
import logging

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

from ..models.catalogue import resources_dir

# Our names for what an icon means, so a page never names a glyph: Phosphor 1.3's code points.
GLYPHS = {
    "search": 0xF20A,  # magnifying-glass
    "image": 0xF252,  # paint-brush
    "code": 0xF10A,  # code
    "map": 0xF20F,  # map-trifold
    "duplicates": 0xF114,  # copy
    "models": 0xF120,  # cube
    "settings": 0xF19C,  # gear-six
    "generate": 0xF2DF,  # sparkle
    "stop": 0xF2F7,  # stop
    "folder-add": 0xF18D,  # folder-plus
    "rescan": 0xF045,  # arrows-clockwise
    "remove": 0xF36D,  # x
    "jobs": 0xF2F1,  # stack
    "open": 0xF18C,  # folder-open
    "copy": 0xF0F7,  # clipboard
    "save": 0xF181,  # floppy-disk
    "download": 0xF14C,  # download-simple
    "import": 0xF345,  # upload-simple
    "expanded": 0xF0C2,  # caret-down
    "collapsed": 0xF0C4,  # caret-right
}

log = logging.getLogger(__name__)

FONT_FILE = "phosphor-1.3.0-subset.ttf"
ICON_LICENCE = "Phosphor Icons 1.3 (MIT licence)"


@functools.cache
def font_family() -> str:
    """The icon font, added to the application once; "" when it cannot be read (icons draw nothing,
    the buttons keep their words)."""
    path = resources_dir() / "icons" / FONT_FILE
    font_id = QFontDatabase.addApplicationFont(str(path))
    families = QFontDatabase.applicationFontFamilies(font_id) if font_id != -1 else []
    if not families:
        log.warning("cannot load the icon font %s: the window shows no icons", path)
    return families[0] if families else ""


class GlyphIconEngine(QIconEngine):
    """One glyph, centred at 7/8 of the icon's height: the text colour, the highlighted text colour
    when on or selected (on the highlight), the disabled text colour when disabled. Under the
    pointer it keeps the text colour: hover backgrounds are light in the light theme, where the
    highlighted text colour (white) would vanish."""

    def __init__(self, glyph: str, normal: QColor, on: QColor, disabled: QColor):
        super().__init__()
        self.glyph, self.normal, self.on, self.disabled = glyph, normal, on, disabled

    def colour(self, mode: QIcon.Mode, state: QIcon.State) -> QColor:
        if mode == QIcon.Mode.Disabled:
            return self.disabled
        if state == QIcon.State.On or mode == QIcon.Mode.Selected:
            return self.on
        return self.normal

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        if not font_family():
            return
        font = QFont(font_family())
        font.setPixelSize(max(1, round(0.875 * rect.height())))
        painter.save()
        painter.setFont(font)
        painter.setPen(self.colour(mode, state))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), self.glyph)
        painter.restore()

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        pixmap = QPixmap(size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self.paint(painter, QRect(QPoint(0, 0), size), mode, state)
        painter.end()
        return pixmap

    def clone(self) -> "GlyphIconEngine":
        return GlyphIconEngine(self.glyph, self.normal, self.on, self.disabled)


def icon(name: str) -> QIcon:
    """The icon for `name`, in the current palette's colours (checked: the highlight's text colour)."""
    palette = QApplication.palette()
    return QIcon(GlyphIconEngine(
        chr(GLYPHS[name]),
        palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.ButtonText),
        palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.HighlightedText),
        palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText),
    ))
