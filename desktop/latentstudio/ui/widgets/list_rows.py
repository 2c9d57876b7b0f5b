"""Lists that refresh in place: rows are matched by key, so a refresh that lands while the user is
working keeps their selection, their ticks and the scroll position, and keeps alive the item a
click is about to act on (clearing and rebuilding the list would delete it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Hashable, Optional, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem

KEY_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class ListRow:
    key: Hashable
    text: str
    tooltip: str = ""


def sync_rows(
    widget: QListWidget,
    rows: Sequence[ListRow],
    new_item: Optional[Callable[[ListRow], QListWidgetItem]] = None,
) -> None:
    """Show `rows` in their order: rows whose key is already listed update their item in place,
    new keys get an item from `new_item` (a plain one by default), items of gone keys are removed.
    Signals are blocked while the list changes: nothing the user did changed."""
    current = widget.currentItem()
    current_key = current.data(KEY_ROLE) if current is not None else None
    scroll = widget.verticalScrollBar().value()
    wanted = {row.key for row in rows}
    blocked = widget.blockSignals(True)
    try:
        for index in reversed(range(widget.count())):
            if widget.item(index).data(KEY_ROLE) not in wanted:
                widget.takeItem(index)
        existing = {widget.item(i).data(KEY_ROLE): widget.item(i) for i in range(widget.count())}
        for index, row in enumerate(rows):
            item = existing.get(row.key)
            if item is None:
                item = new_item(row) if new_item is not None else QListWidgetItem()
                item.setData(KEY_ROLE, row.key)
                widget.insertItem(index, item)
            elif widget.row(item) != index:
                widget.insertItem(index, widget.takeItem(widget.row(item)))
            if item.text() != row.text:
                item.setText(row.text)
            if item.toolTip() != row.tooltip:
                item.setToolTip(row.tooltip)
        if current_key is not None and current_key in existing:
            widget.setCurrentItem(existing[current_key])
    finally:
        widget.blockSignals(blocked)
    widget.verticalScrollBar().setValue(scroll)
