"""The Code page: a prompt in, code streamed out of the local language model, with Stop,
syntax status, speed, copy/save, and the searchable history of past generations."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...codegen import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    GenerationRequest,
    GenerationResult,
    HistoryEntry,
    HistoryStore,
    StreamPiece,
    SyntaxReport,
    get_language,
)
from ...codegen.context_file import read_context
from ...codegen.generation import MAX_NEW_TOKENS_LIMIT, MAX_SEED, submit_generation
from ...engine import EventKind, JobEvent, JobHandle
from ...models import MissingModelError, ModelNotFoundError
from ..widgets.code_highlighter import PygmentsHighlighter
from ..widgets.code_history import CodeHistoryPanel
from .needs_model import NeedsModelPage

log = logging.getLogger(__name__)

RANDOM_SEED = -1


def _monospace(editor: QPlainTextEdit) -> None:
    font = editor.font()
    font.setFamily("monospace")
    font.setStyleHint(font.StyleHint.Monospace)
    editor.setFont(font)


class CodePage(NeedsModelPage):
    kind = "llm"

    def build_content(self) -> QWidget:
        self.handle: Optional[JobHandle] = None
        self.result: Optional[GenerationResult] = None
        self._history_error = ""
        self.history = self._open_history()
        dark = self.palette().window().color().lightness() < 128

        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Describe the code you want… (Ctrl+Enter generates)")
        self.prompt.setMaximumHeight(110)
        self.context = QPlainTextEdit()
        self.context.setPlaceholderText("Optional: paste code to edit or build on, or open a file")
        self.context.setMaximumHeight(110)
        _monospace(self.context)
        self.context_name: Optional[str] = None
        self.open_context_button = QPushButton("Open file…")
        self.open_context_button.clicked.connect(self._open_context_file)
        self.context.textChanged.connect(self._context_edited)

        self.language = QComboBox()
        for language in LANGUAGES:
            self.language.addItem(language.label, language.name)
        self.language.setCurrentIndex(self.language.findData(DEFAULT_LANGUAGE))
        self.model_picker = QComboBox()
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, MAX_NEW_TOKENS_LIMIT)
        self.max_tokens.setValue(512)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(0.2)
        self.temperature.setToolTip("0 picks the most likely token every time (greedy)")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.01, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setValue(0.95)
        self.seed = QSpinBox()
        self.seed.setRange(RANDOM_SEED, MAX_SEED)
        self.seed.setSpecialValueText("random")
        self.seed.setValue(RANDOM_SEED)
        self.seed.setToolTip("The same seed and settings give the same answer")

        settings = QFormLayout()
        settings.addRow("Language", self.language)
        settings.addRow("Model", self.model_picker)
        settings.addRow("Max new tokens", self.max_tokens)
        settings.addRow("Temperature", self.temperature)
        settings.addRow("Top-p", self.top_p)
        settings.addRow("Seed", self.seed)

        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.generate_button.clicked.connect(self.generate)
        self.stop_button.clicked.connect(self.stop)
        QShortcut(QKeySequence("Ctrl+Return"), self.prompt, activated=self.generate)
        self.generate_button.setToolTip("Write the code (Ctrl+Enter in the prompt)")
        self.stop_button.setToolTip("Stop writing, within one token; the answer so far is kept (Esc)")
        self.temperature.setToolTip("Higher: more varied answers; 0: the same answer every time")
        self.top_p.setToolTip("Sample only from the most likely tokens that add up to this share")
        self.max_tokens.setToolTip("The longest answer, in tokens")
        self.seed.setToolTip("The same seed and settings give the same answer; 'random' picks one")

        self.answer = QPlainTextEdit()
        self.answer.setObjectName("code-answer")
        self.answer.setReadOnly(True)
        _monospace(self.answer)
        self.answer_highlighter = PygmentsHighlighter(self.answer.document(), DEFAULT_LANGUAGE, fenced=True, dark=dark)
        self.code = QPlainTextEdit()
        self.code.setObjectName("code-extracted")
        self.code.setReadOnly(True)
        _monospace(self.code)
        self.code_highlighter = PygmentsHighlighter(self.code.document(), DEFAULT_LANGUAGE, dark=dark)
        self.outputs = QTabWidget()
        self.outputs.addTab(self.answer, "Answer")
        self.outputs.addTab(self.code, "Code")
        self.language.currentIndexChanged.connect(self._language_changed)

        self.syntax_label = QLabel()
        self.speed_label = QLabel()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.copy_button = QPushButton("Copy code")
        self.save_button = QPushButton("Save code…")
        self.copy_button.clicked.connect(self.copy_code)
        self.save_button.clicked.connect(self.save_code)

        self.history_panel = CodeHistoryPanel(self.history)
        self.history_panel.reopenRequested.connect(self.reopen)
        if self._history_error:
            self.history_panel.status.setText(self._history_error)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(QLabel("Prompt"))
        left_layout.addWidget(self.prompt)
        context_row = QHBoxLayout()
        context_row.addWidget(QLabel("Context"))
        context_row.addStretch(1)
        context_row.addWidget(self.open_context_button)
        left_layout.addLayout(context_row)
        left_layout.addWidget(self.context)
        left_layout.addLayout(settings)
        run_row = QHBoxLayout()
        run_row.addWidget(self.generate_button)
        run_row.addWidget(self.stop_button)
        left_layout.addLayout(run_row)
        left_layout.addWidget(self.history_panel, 1)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.outputs, 1)
        info_row = QHBoxLayout()
        info_row.addWidget(self.syntax_label, 1)
        info_row.addWidget(self.speed_label)
        right_layout.addLayout(info_row)
        action_row = QHBoxLayout()
        action_row.addWidget(self.status, 1)
        action_row.addWidget(self.copy_button)
        action_row.addWidget(self.save_button)
        right_layout.addLayout(action_row)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        self._update_code_buttons()
        QShortcut(QKeySequence("Escape"), self, self.stop, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        return splitter

    # -- models ------------------------------------------------------------------------------

    def refresh_models(self) -> None:
        super().refresh_models()
        current = self.model_picker.currentData()
        self.model_picker.clear()
        default = self.ctx.registry.default(self.kind)
        for model in self.ctx.registry.list(self.kind):
            self.model_picker.addItem(model.id, model.id)
        wanted = current or (default.id if default else None)
        index = self.model_picker.findData(wanted)
        if index >= 0:
            self.model_picker.setCurrentIndex(index)

    # -- generation --------------------------------------------------------------------------

    def request(self) -> GenerationRequest:
        context = self.context.toPlainText()
        seed = self.seed.value()
        return GenerationRequest(
            prompt=self.prompt.toPlainText(),
            language=self.language.currentData(),
            context=context if context.strip() else None,
            context_name=self.context_name if context.strip() else None,
            max_new_tokens=self.max_tokens.value(),
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            seed=None if seed == RANDOM_SEED else seed,
            model_id=self.model_picker.currentData(),
        )

    def generate(self) -> None:
        if self.handle is not None:
            return
        request = self.request()
        try:
            handle = submit_generation(
                self.ctx.engine, self.ctx.registry, request, self.history
            )
        except (ValueError, MissingModelError, ModelNotFoundError) as exc:
            self.status.setText(str(exc))
            return
        self.handle = handle
        self.bridge.watch(handle, self._on_job_event)
        self.result = None
        self.answer.clear()
        self.code.clear()
        self.syntax_label.clear()
        self.speed_label.clear()
        self.status.setText("Queued…")
        self.outputs.setCurrentWidget(self.answer)
        self._set_running(True)

    def stop(self) -> None:
        if self.handle is not None:
            # Said before cancelling: a waiting job ends at once, and its final event may follow.
            self.stop_button.setEnabled(False)
            self.status.setText("Stopping…")
            self.handle.cancel()

    def _on_job_event(self, event: JobEvent) -> None:
        if event.handle is not self.handle:
            return
        if event.kind is EventKind.PARTIAL:
            self._append(event.payload)
        elif event.kind is EventKind.PROGRESS and event.payload.message:
            self.status.setText(event.payload.message)
        elif event.kind is EventKind.FINISHED:
            self._finished(event.payload)
        elif event.kind is EventKind.FAILED:
            log.error("code generation failed: %s", event.payload)
            self.status.setText(f"Generation failed: {event.payload}")
            self._set_running(False)
        elif event.kind is EventKind.CANCELLED:
            self.status.setText("Stopped before it began")
            self._set_running(False)

    def _append(self, piece: StreamPiece) -> None:
        cursor = self.answer.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(piece.text)
        self.answer.ensureCursorVisible()
        self.speed_label.setText(f"{piece.n_tokens} tokens")

    def _finished(self, result: GenerationResult) -> None:
        self.result = result
        if self.answer.toPlainText() != result.text:
            self.answer.setPlainText(result.text)
        self._show_result(result.code, result.syntax, result.ttft_ms, result.tokens_per_s, result.n_tokens)
        self.status.setText(
            f"Stopped after {result.n_tokens} tokens (seed {result.seed})" if result.stopped
            else f"Done (seed {result.seed})"
        )
        self._set_running(False)
        self.history_panel.refresh()

    def _show_result(
        self,
        code: str,
        syntax: SyntaxReport,
        ttft_ms: Optional[float],
        tokens_per_s: Optional[float],
        n_tokens: int,
    ) -> None:
        self.code.setPlainText(code)
        self.syntax_label.setText(syntax.describe())
        color = "" if not syntax.checked else ("color: #2e7d32;" if syntax.ok else "color: #c62828;")
        self.syntax_label.setStyleSheet(color)
        parts = [f"{n_tokens} tokens"]
        if ttft_ms is not None:
            parts.insert(0, f"first token {ttft_ms:.0f} ms")
        if tokens_per_s is not None:
            parts.insert(1, f"{tokens_per_s:.1f} tokens/s")
        self.speed_label.setText(" · ".join(parts))
        self._update_code_buttons()

    def _set_running(self, running: bool) -> None:
        if not running:
            self.handle = None
        self.generate_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self._update_code_buttons()

    # -- code actions ------------------------------------------------------------------------

    def current_code(self) -> str:
        return self.code.toPlainText()

    def _update_code_buttons(self) -> None:
        has_code = bool(self.current_code().strip())
        self.copy_button.setEnabled(has_code)
        self.save_button.setEnabled(has_code)

    def copy_code(self) -> None:
        QGuiApplication.clipboard().setText(self.current_code())
        self.status.setText("Code copied")

    def save_code(self) -> None:
        """Write the code to a file the user picks. It is only written, never run."""
        language = get_language(self.language.currentData())
        filters = f"{language.label} (*{language.suffix});;All files (*)"
        name, _ = QFileDialog.getSaveFileName(self, "Save code", f"generated{language.suffix}", filters)
        if not name:
            return
        try:
            Path(name).write_text(self.current_code(), encoding="utf-8")
        except OSError as exc:
            self.status.setText(f"Could not save: {exc}")
            return
        self.status.setText(f"Saved {name}")

    # -- context and history -----------------------------------------------------------------

    def _open_context_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open a file to edit or build on")
        if not name:
            return
        try:
            text = read_context(Path(name))
        except (OSError, ValueError) as exc:
            self.status.setText(str(exc))
            return
        self.context.setPlainText(text)
        self.context_name = Path(name).name  # after setPlainText, which clears it
        self.status.setText(f"Context: {self.context_name}")

    def _context_edited(self) -> None:
        if not self.context.toPlainText().strip():
            self.context_name = None

    def _language_changed(self) -> None:
        name = self.language.currentData()
        self.answer_highlighter.set_language(name)
        self.code_highlighter.set_language(name)

    def _open_history(self) -> Optional[HistoryStore]:
        try:
            return self.ctx.code_history
        except (RuntimeError, sqlite3.Error, OSError) as exc:
            log.exception("code history unavailable")
            self._history_error = f"History unavailable: {exc}"
            return None

    def reopen(self, entry: HistoryEntry) -> None:
        """Show a past generation with the prompt and settings that made it."""
        if self.handle is not None:
            self.status.setText("Stop the running generation before reopening another")
            return
        self.prompt.setPlainText(entry.prompt)
        index = self.language.findData(entry.language)
        if index >= 0:
            self.language.setCurrentIndex(index)
        self.context.setPlainText(entry.context or "")
        self.context_name = entry.settings.get("context_name") if entry.context else None
        settings = entry.settings
        if isinstance(settings.get("max_new_tokens"), int):
            self.max_tokens.setValue(settings["max_new_tokens"])
        if isinstance(settings.get("temperature"), (int, float)):
            self.temperature.setValue(float(settings["temperature"]))
        if isinstance(settings.get("top_p"), (int, float)):
            self.top_p.setValue(float(settings["top_p"]))
        if isinstance(settings.get("seed"), int) and 0 <= settings["seed"] <= MAX_SEED:
            self.seed.setValue(settings["seed"])
        model_index = self.model_picker.findData(entry.model_id)
        if model_index >= 0:
            self.model_picker.setCurrentIndex(model_index)
        self.result = None
        self.answer.setPlainText(entry.output)
        self._show_result(entry.code, entry.syntax, entry.ttft_ms, entry.tokens_per_s, entry.n_tokens)
        self.status.setText(f"From history, {entry.created[:16].replace('T', ' ')} with {entry.model_id}")
