"""The code history list: one row per conversation, word search (FTS5) over every turn and a task
filter; reopen (the whole conversation), copy (its last code) and delete."""

from __future__ import annotations

import logging
import sqlite3
from typing import Optional

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...codegen import ConversationSummary, HistoryEntry, HistoryStore
from ...codegen.tasks import WRITE, load_tasks
from .empty_state import EmptyStateList
from .list_rows import KEY_ROLE, ListRow, sync_rows

log = logging.getLogger(__name__)

SEARCH_DELAY_MS = 200


class CodeHistoryPanel(QWidget):
    reopenRequested = Signal(object)  # HistoryEntry: the last turn of the chosen conversation

    def __init__(self, store: Optional[HistoryStore], parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.store = store
        self._shown: dict[int, ConversationSummary] = {}
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search history…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Show the generations whose prompt or answer has these words")
        self.task_filter = QComboBox()
        self.task_filter.setToolTip("Show the generations of one task only")
        self.task_filter.addItem("All tasks", None)
        for task in load_tasks():
            self.task_filter.addItem(task.label, task.name)
        self.list = EmptyStateList()
        self.list.setPlaceholderText("Conversations are kept here, the latest first.")
        self.list.setObjectName("code-history")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.reopen_button = QPushButton("Reopen")
        self.copy_button = QPushButton("Copy code")
        self.delete_button = QPushButton("Delete")
        self.reopen_button.setToolTip("Show the selected conversation again and continue it")
        self.copy_button.setToolTip("Copy the code blocks of the conversation's last answer")
        self.delete_button.setToolTip("Forget the selected conversation (files you saved are not touched)")
        buttons = QHBoxLayout()
        for button in (self.reopen_button, self.copy_button, self.delete_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        search_row = QHBoxLayout()  # title, words and task on one row: the Code page stays short
        search_row.addWidget(QLabel("History"))
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.task_filter)
        layout.addLayout(search_row)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _: self._timer.start())
        self.task_filter.currentIndexChanged.connect(lambda _: self.refresh())
        self.list.itemDoubleClicked.connect(lambda _: self._reopen())
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.reopen_button.clicked.connect(self._reopen)
        self.copy_button.clicked.connect(self._copy)
        self.delete_button.clicked.connect(self._delete)
        if store is None:
            self.search.setEnabled(False)
        self.refresh()

    def refresh(self) -> None:
        """Reload the list for the current search words (newest first without words)."""
        self._timer.stop()
        if self.store is None:
            self._update_buttons()
            return
        try:
            entries = self.store.conversations(self.search.text(), task=self.task_filter.currentData())
        except sqlite3.Error as exc:
            log.exception("code history search failed")
            self.status.setText(f"History unavailable: {exc}")
            entries = []
        self._shown = {entry.id: entry for entry in entries}
        sync_rows(self.list, [ListRow(entry.id, _label(entry), entry.last.prompt) for entry in entries])
        if self.search.text().strip() or self.task_filter.currentData():
            self.status.setText(f"{len(entries)} found")
        elif not self.status.text().startswith("History unavailable"):
            self.status.setText("" if entries else "Generations appear here.")
        self._update_buttons()

    def selected_id(self) -> Optional[int]:
        item = self.list.currentItem()
        return None if item is None else int(item.data(KEY_ROLE))

    def _selected_entry(self) -> Optional[HistoryEntry]:
        conversation_id = self.selected_id()
        if conversation_id is None or self.store is None:
            return None
        turns = self.store.conversation(conversation_id)
        if not turns:
            self.refresh()
            return None
        return turns[-1]

    def _update_buttons(self) -> None:
        has = self.selected_id() is not None
        for button in (self.reopen_button, self.copy_button, self.delete_button):
            button.setEnabled(has)

    def _reopen(self) -> None:
        entry = self._selected_entry()
        if entry is not None:
            self.reopenRequested.emit(entry)

    def _copy(self) -> None:
        entry = self._selected_entry()
        if entry is not None:
            QGuiApplication.clipboard().setText(entry.code)
            self.status.setText("Code copied")

    def _delete(self) -> None:
        entry = self._selected_entry()
        if entry is None or self.store is None:
            return
        summary = self._shown.get(entry.conversation_id)
        title = summary.title if summary is not None else entry.title
        answer = QMessageBox.question(self, "Delete from history", f"Delete “{title}” from the history?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.store.delete_conversation(entry.conversation_id)
        self.refresh()


def _label(summary: ConversationSummary) -> str:
    """The first request's title; the last turn's date, task, language and length."""
    entry = summary.last
    date = entry.created[:16].replace("T", " ")
    stopped = " · stopped" if entry.stopped else ""
    task = "" if entry.task == WRITE else f"{entry.task} · "
    turns = f" · {summary.turns} turns" if summary.turns > 1 else ""
    return f"{summary.title}\n{date} · {task}{entry.language} · {entry.n_tokens} tokens{stopped}{turns}"
