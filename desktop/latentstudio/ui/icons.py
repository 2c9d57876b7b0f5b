"""The window's icons: Phosphor line icons (MIT licence), drawn from the glyphs of Phosphor's icon
font in the palette's colours so they read in the light and the dark theme. An icon is drawn in the
colours of the palette it is asked under, so widgets ask again when the palette changes (see
`NavigationRail.changeEvent`).

The font is `resources/icons/phosphor-1.3.0-subset.ttf`: the glyphs below, cut from Phosphor 1.3.0
(see the README beside it). Drawing them here instead of through an icon-font package keeps that
package's Qt compatibility layer out of the window's start (about 0.2 s of imports).
"""

from __future__ import annotations

import functools
import logging

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QIcon, QPainter, QPalette, QPixmap
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


# Drawn ahead at these sizes (and twice them, for high-density screens): Qt scales the nearest
# larger one down for any other size. The rail's icons are 24 px, the sections' carets 16 px.
SIZES = (16, 24, 32)


def glyph_pixmap(glyph: str, size: int, colour: QColor) -> QPixmap:
    """One glyph, centred at 7/8 of the pixmap's height, in `colour` on transparent."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    family = font_family()
    if family:
        font = QFont(family)
        font.setPixelSize(max(1, round(0.875 * size)))
        painter = QPainter(pixmap)
        painter.setFont(font)
        painter.setPen(colour)
        painter.drawText(QRect(0, 0, size, size), int(Qt.AlignmentFlag.AlignCenter), glyph)
        painter.end()
    return pixmap


@functools.lru_cache(maxsize=256)
def _glyph_icon(glyph: str, normal: int, on: int, disabled: int) -> QIcon:
    """The text colour; the highlighted text colour when on or selected (on the highlight); the
    disabled text colour when disabled. Under the pointer (Active) it keeps the text colour: hover
    backgrounds are light in the light theme, where the highlighted text colour (white) would vanish.

    A plain QIcon of pixmaps rather than a Python QIconEngine: Qt copies icons (a detached copy
    clones the engine), and a clone made in Python is freed under Qt's feet."""
    result = QIcon()
    for size in {*SIZES, *(2 * s for s in SIZES)}:
        drawn = {rgba: glyph_pixmap(glyph, size, QColor.fromRgba(rgba)) for rgba in {normal, on, disabled}}
        for mode, off_colour, on_colour in (
            (QIcon.Mode.Normal, normal, on), (QIcon.Mode.Active, normal, on),
            (QIcon.Mode.Selected, on, on), (QIcon.Mode.Disabled, disabled, disabled),
        ):
            result.addPixmap(drawn[off_colour], mode, QIcon.State.Off)
            result.addPixmap(drawn[on_colour], mode, QIcon.State.On)
    return result


def icon(name: str) -> QIcon:
    """The icon for `name`, in the current palette's colours (checked: the highlight's text colour)."""
    palette = QApplication.palette()
    return _glyph_icon(
        chr(GLYPHS[name]),
        palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.ButtonText).rgba(),
        palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.HighlightedText).rgba(),
        palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText).rgba(),
    )
