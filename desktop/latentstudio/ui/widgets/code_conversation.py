"""The Code page's conversation: the turns so far as a transcript (each answer with the sources it
was given), how many there are, and New conversation / Regenerate / Edit last turn."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QWidget

from ...codegen import HistoryEntry


class ConversationBar(QWidget):
    """The row above the answer: the conversation's length and its three actions."""

    newRequested = Signal()
    regenerateRequested = Signal()
    editRequested = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.label = QLabel()
        self.label.setObjectName("conversation-label")
        self.label.setWordWrap(True)  # the buttons keep their width on a narrow window
        self.new_button = QPushButton("New chat")
        self.new_button.setToolTip("Start again without the earlier turns (Ctrl+N)")
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip("Answer the last request again; the new answer takes its place")
        self.edit_button = QPushButton("Edit last")
        self.edit_button.setToolTip("Put the last request back in the prompt; Generate then replaces that turn")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        for button in (self.new_button, self.regenerate_button, self.edit_button):
            layout.addWidget(button)
        self.new_button.clicked.connect(self.newRequested)
        self.regenerate_button.clicked.connect(self.regenerateRequested)
        self.edit_button.clicked.connect(self.editRequested)
        self.show_state(0, running=False)

    def show_state(self, turns: int, running: bool, editing: bool = False, dropped: int = 0,
                   summarised: int = 0) -> None:
        if turns == 0:
            text = "New conversation (follow-ups see earlier turns)"
        else:
            text = f"Conversation · {turns} turn{'s' if turns != 1 else ''}"
            if editing:
                text += " · editing the last turn"
            if summarised:
                text += f" · {summarised} oldest summarised (context full)"
            if dropped > summarised:
                text += f" · {dropped - summarised} oldest left out (context full)"
        self.label.setText(text)
        self.new_button.setEnabled(not running and turns > 0)
        self.regenerate_button.setEnabled(not running and turns > 0)
        self.edit_button.setEnabled(not running and turns > 0 and not editing)


def transcript(turns: list[HistoryEntry]) -> str:
    """The conversation as Markdown-ish text: each request, its answer and the sources it was given."""
    parts = []
    for entry in turns:
        parts.append(f"── You · turn {entry.turn or len(parts) + 1} ──\n{entry.prompt or entry.title}")
        parts.append(f"── Answer · {entry.model_id} ──\n{entry.output}")
        if entry.sources:
            lines = [f"  {source_line(s)}" for s in entry.sources]
            parts.append("Sources:\n" + "\n".join(lines))
    return "\n\n".join(parts)


def source_line(source: dict) -> str:
    """`pkg/io.py:3-9 parse · 0.82 · words+meaning`: where a source is, its score and why it matched."""
    symbol = f" {source['symbol']}" if source.get("symbol") else ""
    score = source.get("score")
    score_text = f" · {score:.2f}" if isinstance(score, (int, float)) else ""
    matched = f" · {source['matched']}" if source.get("matched") else ""
    return f"{source.get('path')}:{source.get('start_line')}-{source.get('end_line')}{symbol}{score_text}{matched}"


class TranscriptView(QPlainTextEdit):
    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("code-conversation")
        self.setReadOnly(True)
        self.setPlaceholderText("The turns of this conversation appear here; a follow-up sees them.")

    def show_turns(self, turns: list[HistoryEntry]) -> None:
        self.setPlainText(transcript(turns))
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())
