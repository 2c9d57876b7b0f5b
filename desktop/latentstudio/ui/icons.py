"""The window's icons: Phosphor line icons (MIT licence) from qtawesome's bundled font, drawn in the
palette's text colour so they read in the light and the dark theme. Icons are drawn when asked for,
so widgets ask again when the palette changes (see `NavigationRail.changeEvent`)."""

from __future__ import annotations

from PySide6.QtGui import QIcon, QPalette
from PySide6.QtWidgets import QApplication

# Our names for what an icon means, so a page never names a glyph of the font.
GLYPHS = {
    "search": "ph.magnifying-glass",
    "image": "ph.paint-brush",
    "code": "ph.code",
    "map": "ph.map-trifold",
    "duplicates": "ph.copy",
    "models": "ph.cube",
    "settings": "ph.gear-six",
    "generate": "ph.sparkle",
    "stop": "ph.stop",
    "folder-add": "ph.folder-plus",
    "rescan": "ph.arrows-clockwise",
    "remove": "ph.x",
    "jobs": "ph.stack",
    "open": "ph.folder-open",
    "copy": "ph.clipboard",
    "save": "ph.floppy-disk",
    "download": "ph.download-simple",
    "import": "ph.upload-simple",
    "expanded": "ph.caret-down",
    "collapsed": "ph.caret-right",
}

ICON_LICENCE = "Phosphor Icons 1.3 (MIT licence), through QtAwesome (MIT licence)"


def icon(name: str) -> QIcon:
    """The icon for `name`, in the current palette's colours (checked: the highlight's text colour)."""
    import qtawesome  # imported on first use: it loads its fonts into the running application

    palette = QApplication.palette()
    text = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.ButtonText)
    return qtawesome.icon(
        GLYPHS[name],
        color=text,
        color_on=palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.HighlightedText),
        color_disabled=palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText),
    )
