"""Side panels: a titled section that folds away, and the button that shows or hides a whole panel.

The main window remembers whether each section was open and each panel shown (by their object
names, "section-…" and "toggle-…"), like the splitters.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QFrame, QPushButton, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from ..icons import icon
from ..theme import theme_signals


# A flat title; reached with Tab, it shows a frame in the highlight colour (Space folds it).
TITLE_STYLE = """
QPushButton { text-align: left; border: 1px solid transparent; border-radius: 3px; padding: 1px 2px; }
QPushButton:focus { border-color: palette(highlight); }
"""


class SideSection(QFrame):
    """A bold title with a caret; clicking it folds the content away or brings it back."""

    def __init__(self, name: str, title: str, content: QWidget, tooltip: str,
                 parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName(f"section-{name}")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._button = QPushButton(title)
        self._button.setStyleSheet(TITLE_STYLE)
        self._button.setToolTip(tooltip)
        font = self._button.font()
        font.setBold(True)
        self._button.setFont(font)
        self._button.clicked.connect(lambda: self.collapse() if self.isExpanded() else self.expand())
        self._content = content
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addWidget(self._button)
        layout.addWidget(content)
        self._redraw_icons()
        theme_signals().changed.connect(self._redraw_icons)

    def isExpanded(self) -> bool:  # noqa: N802 (Qt's naming, as the widgets around it)
        return not self._content.isHidden()

    def expand(self) -> None:
        self._content.show()
        self._redraw_icons()

    def collapse(self) -> None:
        self._content.hide()
        self._redraw_icons()

    def _redraw_icons(self) -> None:  # the caret, in the palette's colours
        self._button.setIcon(icon("expanded" if self.isExpanded() else "collapsed"))


def panel_toggle(name: str, text: str, tooltip: str) -> QToolButton:
    """A checked button that shows (checked) or hides a side panel; connect its `toggled`."""
    button = QToolButton()
    button.setObjectName(f"toggle-{name}")
    button.setText(text)
    button.setCheckable(True)
    button.setChecked(True)
    button.setToolTip(tooltip)
    return button
