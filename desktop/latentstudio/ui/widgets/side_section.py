"""Side panels: a titled section that folds away (superqt's QCollapsible, with our icons), and the
button that shows or hides a whole panel.

The main window remembers whether each section was open and each panel shown (by their object
names, "section-…" and "toggle-…"), like the splitters.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QToolButton, QWidget
from superqt import QCollapsible

from ..icons import icon
from ..theme import theme_signals


class SideSection(QCollapsible):
    def __init__(self, name: str, title: str, content: QWidget, tooltip: str,
                 parent: Optional[QWidget] = None):
        super().__init__(title, parent, expandedIcon=icon("expanded"), collapsedIcon=icon("collapsed"))
        self.setObjectName(f"section-{name}")
        self.setDuration(120)
        button = self.toggleButton()
        font = button.font()
        font.setBold(True)
        button.setFont(font)
        button.setToolTip(tooltip)
        self.layout().setContentsMargins(0, 4, 0, 4)
        self.content().layout().setContentsMargins(0, 0, 0, 0)
        self.addWidget(content)
        self.expand(animate=False)
        theme_signals().changed.connect(self._redraw_icons)

    def _redraw_icons(self) -> None:  # the carets in the new colours
        self.setExpandedIcon(icon("expanded"))
        self.setCollapsedIcon(icon("collapsed"))
        self.toggleButton().setIcon(icon("expanded" if self.isExpanded() else "collapsed"))


def panel_toggle(name: str, text: str, tooltip: str) -> QToolButton:
    """A checked button that shows (checked) or hides a side panel; connect its `toggled`."""
    button = QToolButton()
    button.setObjectName(f"toggle-{name}")
    button.setText(text)
    button.setCheckable(True)
    button.setChecked(True)
    button.setToolTip(tooltip)
    return button
