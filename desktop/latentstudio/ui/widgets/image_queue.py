"""The image queue: running and waiting image jobs, reorder with Up/Down, cancel the selected one."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from ...engine import Engine, JobHandle
from .empty_state import EmptyStateList
from .list_rows import KEY_ROLE, ListRow, sync_rows

class ImageQueue(QWidget):
    def __init__(self, kind: str, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.kind = kind
        self.engine: Optional[Engine] = None
        self.list = EmptyStateList()
        self.list.setPlaceholderText("Nothing waiting. Generate (Ctrl+Enter) adds images to this queue.")
        self.list.setObjectName("image-queue")
        self.up = QPushButton("Up")
        self.down = QPushButton("Down")
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("queue-cancel")
        self.up.setToolTip("Make the selected image sooner")
        self.down.setToolTip("Make the selected image later")
        self.cancel.setToolTip("Take the selected image out of the queue, or stop it if it is being made (Delete)")
        self.up.clicked.connect(lambda: self._move(-1))
        self.down.clicked.connect(lambda: self._move(1))
        self.cancel.clicked.connect(self._cancel)
        buttons = QHBoxLayout()
        for button in (self.up, self.down, self.cancel):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)

    def handles(self) -> list[JobHandle]:
        return [self.list.item(i).data(KEY_ROLE) for i in range(self.list.count())]

    def refresh(self) -> None:
        """Show the engine's image jobs, the running one first, then the waiting ones in run order;
        rows update in place, so the selected job stays selected."""
        if self.engine is None:
            return
        running = [h for h in self.engine.active() if h.kind == self.kind]
        waiting = [h for h in self.engine.queued() if h.kind == self.kind]
        sync_rows(self.list, [ListRow(handle, f"{handle.name} — {'running' if handle in running else 'waiting'}")
                              for handle in running + waiting])

    def _selected(self) -> Optional[JobHandle]:
        item = self.list.currentItem()
        return item.data(KEY_ROLE) if item is not None else None

    def _move(self, offset: int) -> None:
        handle = self._selected()
        if handle is not None and self.engine is not None:
            self.engine.move(handle, offset)  # the engine's queueChanged refreshes the list

    def _cancel(self) -> None:
        handle = self._selected()
        if handle is not None:
            handle.cancel()
