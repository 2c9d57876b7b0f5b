"""The navigation rail down the window's left edge: one button per page, its icon above its name,
the current page highlighted (as InvokeAI, Krita AI Diffusion and GPT4All lay out theirs)."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from .icons import icon
from .theme import theme_signals

RAIL_STYLE = """
QToolButton#rail-button { border: none; border-radius: 6px; padding: 6px 2px; }
QToolButton#rail-button:hover:!checked { background: palette(midlight); }
QToolButton#rail-button:checked { background: palette(highlight); color: palette(highlighted-text); }
"""


class NavigationRail(QWidget):
    currentChanged = Signal(int)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("navigation")
        self.setStyleSheet(RAIL_STYLE)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self._group.idToggled.connect(lambda index, on: on and self.currentChanged.emit(index))
        self._icons: list[str] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.setSpacing(2)
        self._layout.addStretch(1)
        theme_signals().changed.connect(self._redraw_icons)

    def add(self, title: str, icon_name: str, tooltip: str) -> QToolButton:
        button = QToolButton()
        button.setObjectName("rail-button")
        button.setText(title)
        button.setToolTip(tooltip)
        button.setCheckable(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        button.setIconSize(QSize(24, 24))
        button.setIcon(icon(icon_name))
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._group.addButton(button, len(self._icons))
        self._icons.append(icon_name)
        self._layout.insertWidget(self._layout.count() - 1, button)
        width = max(84, *(b.sizeHint().width() + 8 for b in self._group.buttons()))
        self.setFixedWidth(width)
        return button

    def count(self) -> int:
        return len(self._icons)

    def current_index(self) -> int:
        return self._group.checkedId()

    def set_current_index(self, index: int) -> None:
        button = self._group.button(index)
        if not button.isChecked():
            button.setChecked(True)  # emits currentChanged through idToggled

    def button(self, index: int) -> QToolButton:
        return self._group.button(index)

    def _redraw_icons(self) -> None:  # light ↔ dark: the icons in the new colours
        for index, name in enumerate(self._icons):
            self._group.button(index).setIcon(icon(name))
