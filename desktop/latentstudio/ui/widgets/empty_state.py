"""Lists that say what to do next while they are empty (as Qt's line edits do with a placeholder)."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QListView, QListWidget


class EmptyStateMixin:
    """For QAbstractItemView subclasses: `setPlaceholderText` draws the text centred in the view
    while the view has no rows."""

    _placeholder = ""

    def setPlaceholderText(self, text: str) -> None:  # noqa: N802 - Qt's name for the same thing
        self._placeholder = text
        self.viewport().update()

    def placeholderText(self) -> str:  # noqa: N802
        return self._placeholder

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        super().paintEvent(event)
        model = self.model()
        if not self._placeholder or (model is not None and model.rowCount(self.rootIndex()) > 0):
            return
        painter = QPainter(self.viewport())
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        area = QRect(self.viewport().rect()).adjusted(12, 12, -12, -12)
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder)
        painter.end()


class EmptyStateList(EmptyStateMixin, QListWidget):
    pass


class EmptyStateListView(EmptyStateMixin, QListView):
    pass
