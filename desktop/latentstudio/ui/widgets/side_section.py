"""A titled section of a side panel that folds away (superqt's QCollapsible, with our icons).

The main window remembers whether each section was open (by its object name), like the splitters.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QWidget
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
