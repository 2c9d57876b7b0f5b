"""The Code page: a task (write, explain, translate, summarise, tests, fix) and a prompt in, the
answer streamed out of the local language model, with Stop, syntax status (code answers only),
speed, copy/save, and the searchable history of past conversations. It is a conversation: a
follow-up sees the earlier turns; New conversation (Ctrl+N), Regenerate and Edit last."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
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
    CodeRequest,
    GenerationResult,
    HistoryEntry,
    HistoryStore,
    StreamPiece,
    SyntaxReport,
    get_language,
)
from ...codegen.context_file import read_context
from ...codegen.conversation import turns_note, turns_of
from ...codegen.generation import MAX_NEW_TOKENS_LIMIT, MAX_SEED
from ...codegen.service import submit_code
from ...codegen.tasks import WRITE, get_task, load_tasks
from ...engine import EventKind, JobEvent, JobHandle
from ...models import MissingModelError, ModelNotFoundError
from ..theme import status_colour, theme_signals
from ..widgets.code_highlighter import PygmentsHighlighter
from ...projects.folders import ProjectFolders
from ...projects.service import open_store, submit_index, submit_search
from ..widgets.code_conversation import ConversationBar, TranscriptView
from ..file_actions import open_at_line
from ..widgets.code_sources import ProjectPicker, SourcesList
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
    projectFilesChanged = Signal()  # from the project watch's thread: refresh the index (queued here)

    def build_content(self) -> QWidget:
        self.handle: Optional[JobHandle] = None
        self.result: Optional[GenerationResult] = None
        self.turns: list[HistoryEntry] = []  # the conversation so far, oldest first
        self.conversation_id: Optional[int] = None
        self.editing: Optional[HistoryEntry] = None  # the turn Generate replaces (edit, regenerate)
        self._asked: Optional[CodeRequest] = None
        self.search_handle: Optional[JobHandle] = None
        self.index_handle: Optional[JobHandle] = None
        self._history_error = ""
        self.history = self._open_history()

        self.task = QComboBox()
        self.task.setObjectName("code-task")
        self.task.setToolTip("What to ask of the model; every task but Write works on the context code")
        for task in load_tasks():
            self.task.addItem(task.label, task.name)
        self.target_language = QComboBox()
        self.target_language.setObjectName("code-target-language")
        self.target_language.setToolTip("The language to translate the context code to")
        for language in LANGUAGES:
            self.target_language.addItem(language.label, language.name)
        self.target_language.setCurrentIndex(self.target_language.findData("javascript"))
        self.target_label = QLabel("Translate to")
        self.traceback = QPlainTextEdit()
        self.traceback.setObjectName("code-traceback")
        self.traceback.setPlaceholderText("Paste the error message or traceback the code gives")
        self.traceback.setToolTip("Fix: the error the context code gives, as printed")
        self.traceback.setMaximumHeight(56)
        _monospace(self.traceback)
        self.traceback_label = QLabel("Error")

        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Describe the code you want… (Ctrl+Enter generates)")
        self.prompt.setMaximumHeight(110)
        self.context = QPlainTextEdit()
        self.context.setPlaceholderText("Optional: paste code to edit or build on, or open a file")
        self.context.setMaximumHeight(110)
        _monospace(self.context)
        self.context_name: Optional[str] = None
        self.open_context_button = QPushButton("Open file…")
        self.open_context_button.setToolTip("Put a source file in the context box (it is read, never run)")
        self.open_context_button.clicked.connect(self._open_context_file)
        self.context.textChanged.connect(self._context_edited)

        self.language = QComboBox()
        for language in LANGUAGES:
            self.language.addItem(language.label, language.name)
        self.language.setCurrentIndex(self.language.findData(DEFAULT_LANGUAGE))
        self.language.setToolTip("The language to write in; it also colours the code and picks the syntax check")
        self.model_picker = QComboBox()
        self.model_picker.setToolTip("The language model; add more on the Models page")
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
        settings.addRow(self.target_label, self.target_language)
        self._settings_form = settings
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
        self.answer.setPlaceholderText("The answer appears here as it is written. Code is shown, never run.")
        _monospace(self.answer)
        self.answer_highlighter = PygmentsHighlighter(self.answer.document(), DEFAULT_LANGUAGE, fenced=True)
        self.code = QPlainTextEdit()
        self.code.setObjectName("code-extracted")
        self.code.setReadOnly(True)
        _monospace(self.code)
        self.code_highlighter = PygmentsHighlighter(self.code.document(), DEFAULT_LANGUAGE)
        self.outputs = QTabWidget()
        self.outputs.addTab(self.answer, "Answer")
        self.outputs.addTab(self.code, "Code")
        self.transcript = TranscriptView()
        _monospace(self.transcript)
        self.transcript_highlighter = PygmentsHighlighter(self.transcript.document(), DEFAULT_LANGUAGE, fenced=True)
        self.outputs.addTab(self.transcript, "Conversation")
        self.conversation_bar = ConversationBar()
        self.conversation_bar.newRequested.connect(self.new_conversation)
        self.conversation_bar.regenerateRequested.connect(self.regenerate)
        self.conversation_bar.editRequested.connect(self.edit_last)
        self.project_picker = ProjectPicker()
        self.project_picker.addRequested.connect(self._add_project)
        self.project_picker.combo.currentIndexChanged.connect(lambda _: self._index_project())
        self.projectFilesChanged.connect(self._index_project)
        self.sources = SourcesList()
        self.sources.openRequested.connect(self._open_source)
        self._load_projects()
        self.language.currentIndexChanged.connect(self._language_changed)

        self.syntax_label = QLabel()
        self._syntax: Optional[SyntaxReport] = None
        theme_signals().changed.connect(self._colour_syntax)
        self.speed_label = QLabel()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.copy_button = QPushButton("Copy code")
        self.save_button = QPushButton("Save code…")
        self.copy_button.setToolTip("Copy the code blocks of the answer (without the prose)")
        self.save_button.setToolTip("Save the code blocks of the answer to a file")
        self.copy_button.clicked.connect(self.copy_code)
        self.save_button.clicked.connect(self.save_code)

        self.history_panel = CodeHistoryPanel(self.history)
        self.history_panel.reopenRequested.connect(self.reopen)
        if self._history_error:
            self.history_panel.status.setText(self._history_error)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        task_row = QHBoxLayout()  # one row for the task and the prompt's title: the page stays short
        self.prompt_label = QLabel("Prompt")
        task_row.addWidget(self.prompt_label)
        task_row.addStretch(1)
        task_row.addWidget(QLabel("Task"))
        task_row.addWidget(self.task)
        left_layout.addLayout(task_row)
        left_layout.addWidget(self.prompt)
        context_row = QHBoxLayout()
        context_row.addWidget(QLabel("Context"))
        context_row.addStretch(1)
        context_row.addWidget(self.open_context_button)
        left_layout.addLayout(context_row)
        left_layout.addWidget(self.context)
        left_layout.addWidget(self.traceback_label)
        left_layout.addWidget(self.traceback)
        left_layout.addLayout(settings)
        run_row = QHBoxLayout()
        run_row.addWidget(self.generate_button)
        run_row.addWidget(self.stop_button)
        left_layout.addLayout(run_row)
        left_layout.addWidget(self.history_panel, 1)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.conversation_bar)
        right_layout.addWidget(self.project_picker)
        right_layout.addWidget(self.outputs, 1)
        right_layout.addWidget(self.sources)
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
        self.task.currentIndexChanged.connect(self._task_changed)
        self.target_language.currentIndexChanged.connect(self._language_changed)
        self._task_changed()
        self._update_code_buttons()
        QShortcut(QKeySequence("Escape"), self, self.stop, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence("Ctrl+N"), self, self.new_conversation,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
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

    def request(self) -> CodeRequest:
        context = self.context.toPlainText()
        seed = self.seed.value()
        task = get_task(self.task.currentData())
        traceback = self.traceback.toPlainText()
        return CodeRequest(
            prompt=self.prompt.toPlainText(),
            language=self.language.currentData(),
            task=task.name,
            target_language=self.target_language.currentData() if "target" in task.needs else None,
            traceback=traceback if "traceback" in task.needs and traceback.strip() else None,
            context=context if context.strip() else None,
            context_name=self.context_name if context.strip() else None,
            max_new_tokens=self.max_tokens.value(),
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            seed=None if seed == RANDOM_SEED else seed,
            model_id=self.model_picker.currentData(),
            earlier=turns_of(self._earlier_turns()),
            conversation_id=self.conversation_id,
            replaces=self.editing.id if self.editing is not None else None,
        )

    def _earlier_turns(self) -> list[HistoryEntry]:
        """The turns a request sees: all of them, or those before the one it replaces."""
        if self.editing is None:
            return list(self.turns)
        return [t for t in self.turns if t is not self.editing and t.turn < self.editing.turn]

    def generate(self) -> None:
        if self.handle is not None or self.search_handle is not None:
            return
        request = self.request()
        project = self.project_picker.current()
        if project is None:
            self._submit(request)
            return
        try:
            request.validate()
            store = open_store(self.ctx.paths.home, project)
            handle = submit_search(self.ctx.engine, self.ctx.registry, store, request.prompt or request.task,
                                   root=project, exports=self.ctx.embedder_exports)
        except (MissingModelError, ModelNotFoundError):
            self.project_picker.state.setText("No text-embedding model (Models page): asked without project code")
            self._submit(request)
            return
        except (ValueError, RuntimeError, OSError) as exc:
            self.status.setText(str(exc))
            return
        self.search_handle = handle
        self._asked = request
        self.bridge.watch(handle, self._on_search_event)
        self.status.setText(f"Finding code in {project.name}…")
        self._set_running(True)

    def _on_search_event(self, event: JobEvent) -> None:
        if event.handle is not self.search_handle or not event.kind.final:
            return
        self.search_handle = None
        request = self._asked
        self._set_running(False)
        if event.kind is EventKind.FINISHED and request is not None:
            found = [hit.to_json(with_text=True) for hit in event.payload]  # the job fills them to the context
            self._submit(replace(request, sources=tuple(self.sources.apply(found))))
        elif event.kind is EventKind.FAILED:
            log.error("project search failed: %s", event.payload)
            self.status.setText(f"Could not search the project: {event.payload}")
        else:
            self.status.setText("Stopped before it began")

    def _submit(self, request: CodeRequest) -> None:
        try:
            handle = submit_code(
                self.ctx.engine, self.ctx.registry, request, self.history
            )
        except (ValueError, MissingModelError, ModelNotFoundError) as exc:
            self.status.setText(str(exc))
            return
        self.handle = handle
        self._asked = request
        self.bridge.watch(handle, self._on_job_event)
        self.result = None
        self.answer.clear()
        self.code.clear()
        self.sources.show_sources([], None)
        self.syntax_label.clear()
        self.speed_label.clear()
        self.status.setText("Queued…")
        self.outputs.setCurrentWidget(self.answer)
        self._set_running(True)
        self._show_conversation()

    def stop(self) -> None:
        if self.search_handle is not None:
            self.search_handle.cancel()
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
            self._show_conversation()
        elif event.kind is EventKind.CANCELLED:
            self.status.setText("Stopped before it began")
            self._set_running(False)
            self._show_conversation()

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
        status = (
            f"Stopped after {result.n_tokens} tokens (seed {result.seed})" if result.stopped
            else f"Done (seed {result.seed})"
        )
        if result.dropped_turns:
            status += " · " + turns_note(result.dropped_turns, result.summarised_turns)
        self.status.setText(status)
        self._add_turn(result)
        self.sources.show_sources(result.sources, self.project_picker.current())
        self.prompt.clear()  # ready for the follow-up, as in a chat
        self._set_running(False)
        self.history_panel.refresh()
        self._show_conversation(result.dropped_turns, result.summarised_turns)

    def _add_turn(self, result: GenerationResult) -> None:
        """The answered request becomes the conversation's last turn (in place of the one it replaces)."""
        if self.editing is not None:
            self.turns = [t for t in self.turns if t.turn < self.editing.turn]
        self.editing = None
        request = self._asked
        entry: Optional[HistoryEntry] = None
        if self.history is not None and result.history_id is not None:
            try:
                entry = self.history.get(result.history_id)
            except (KeyError, sqlite3.Error):
                log.exception("the turn just recorded could not be read back")
        if entry is None and request is not None:  # no history: the conversation lives in the window
            entry = HistoryEntry(
                model_id=result.model_id, language=result.language, prompt=request.prompt, output=result.text,
                code=result.code, syntax=result.syntax, context=request.context, task=result.task,
                settings={"context_name": request.context_name, "traceback": request.traceback,
                          "source_language": request.language},
                turn=len(self.turns) + 1, sources=result.sources,
            )
        if entry is not None:
            self.turns.append(entry)
            self.conversation_id = entry.conversation_id

    def _show_conversation(self, dropped: int = 0, summarised: int = 0) -> None:
        self.transcript.show_turns(self.turns)
        self.conversation_bar.show_state(len(self.turns), self.handle is not None, self.editing is not None, dropped,
                                         summarised)

    # -- conversation ------------------------------------------------------------------------

    def new_conversation(self) -> None:
        """Start again: the next request sees no earlier turn (the old one stays in the history)."""
        if self.handle is not None:
            self.status.setText("Stop the running generation before starting a new conversation")
            return
        self.turns, self.conversation_id, self.editing, self.result = [], None, None, None
        self.sources.forget_choices()
        self.sources.show_sources([], None)
        self.prompt.clear()
        self.answer.clear()
        self.code.clear()
        self.syntax_label.clear()
        self.speed_label.clear()
        self.status.setText("New conversation")
        self._update_code_buttons()
        self._show_conversation()
        self.prompt.setFocus()

    def edit_last(self) -> None:
        """Put the last turn's request back in the form; Generate then replaces that turn."""
        if self.handle is not None or not self.turns:
            return
        self.editing = self.turns[-1]
        self._restore_form(self.editing)
        self.status.setText("Edit the request and Generate: the answer replaces the last turn")
        self._show_conversation()
        self.prompt.setFocus()

    def regenerate(self) -> None:
        """Answer the last request again, with its settings and a new seed unless one was fixed."""
        if self.handle is not None or not self.turns:
            return
        self.editing = self.turns[-1]
        self._restore_form(self.editing)
        self.seed.setValue(RANDOM_SEED)  # the same seed would give the same answer
        self.generate()
        if self.handle is None:  # refused: keep the turn as it was
            self.editing = None
        self._show_conversation()

    def _colour_syntax(self) -> None:  # green / red in shades that read on the current theme
        syntax = self._syntax
        ok = None if syntax is None or not syntax.checked else syntax.ok
        self.syntax_label.setStyleSheet("" if ok is None else f"color: {status_colour(ok)};")

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
        self._syntax = syntax
        self._colour_syntax()
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
        running = running or self.search_handle is not None
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
        language = get_language(self.answer_language())
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

    def answer_language(self) -> str:
        """The language the answer's code is in: the target when translating."""
        task = get_task(self.task.currentData())
        return self.target_language.currentData() if "target" in task.needs else self.language.currentData()

    def _language_changed(self) -> None:
        name = self.answer_language()
        self.answer_highlighter.set_language(name)
        self.code_highlighter.set_language(name)

    def _task_changed(self) -> None:
        """Show what the chosen task needs, and say what each box is for."""
        task = get_task(self.task.currentData())
        self._settings_form.setRowVisible(self.target_language, "target" in task.needs)
        for widget in (self.traceback_label, self.traceback):
            widget.setVisible("traceback" in task.needs)
        # Each task's own words, from its template in resources/code-tasks.json.
        self.prompt_label.setText("Prompt" if task.name == WRITE else "Instructions")
        self.prompt.setPlaceholderText(task.hint)
        self.context.setPlaceholderText(task.context_hint)
        for box in (self.prompt, self.context):
            box.viewport().update()  # an empty box shows its placeholder: draw the new one now
        self.generate_button.setText(task.button)
        self._language_changed()

    def _open_history(self) -> Optional[HistoryStore]:
        try:
            return self.ctx.code_history
        except (RuntimeError, sqlite3.Error, OSError) as exc:
            log.exception("code history unavailable")
            self._history_error = f"History unavailable: {exc}"
            return None

    def reopen(self, entry: HistoryEntry) -> None:
        """Show a past conversation, its last turn with the prompt and settings that made it; the
        next request continues it."""
        if self.handle is not None:
            self.status.setText("Stop the running generation before reopening another")
            return
        turns: list[HistoryEntry] = []
        if self.history is not None and entry.conversation_id is not None:
            try:
                turns = self.history.conversation(entry.conversation_id)
            except sqlite3.Error:
                log.exception("could not read the conversation")
        self.turns = turns or [entry]
        self.conversation_id = entry.conversation_id
        self.editing = None
        last = self.turns[-1]
        self._restore_form(last)
        self.result = None
        self.answer.setPlainText(last.output)
        self._show_result(last.code, last.syntax, last.ttft_ms, last.tokens_per_s, last.n_tokens)
        self.sources.show_sources(last.sources, self.project_picker.current())
        turns_text = f", {len(self.turns)} turns" if len(self.turns) > 1 else ""
        self.status.setText(f"From history, {last.created[:16].replace('T', ' ')} with {last.model_id}{turns_text}")
        self._show_conversation()

    def _restore_form(self, entry: HistoryEntry) -> None:
        """The prompt, task, languages, context and settings of a turn back in the form."""
        self.prompt.setPlainText(entry.prompt)
        task_index = self.task.findData(entry.task)
        self.task.setCurrentIndex(max(0, task_index))
        source = entry.settings.get("source_language")
        if entry.task != WRITE and isinstance(source, str) and source != entry.language:
            self.target_language.setCurrentIndex(max(0, self.target_language.findData(entry.language)))
            index = self.language.findData(source)
        else:
            index = self.language.findData(entry.language)
        if index >= 0:
            self.language.setCurrentIndex(index)
        traceback = entry.settings.get("traceback")
        self.traceback.setPlainText(traceback if isinstance(traceback, str) else "")
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

    # -- projects ----------------------------------------------------------------------------

    def _load_projects(self) -> None:
        try:
            folders = [p.path for p in ProjectFolders(self.ctx.paths.home).list()]
        except ValueError as exc:
            self.project_picker.state.setText(str(exc))
            folders = []
        self.project_picker.set_projects(folders, self.project_picker.current())

    def add_project(self, folder: Path) -> None:
        """Add a project folder, choose it, and index it in the background."""
        try:
            project = ProjectFolders(self.ctx.paths.home).add(folder)
        except (OSError, ValueError) as exc:
            self.project_picker.state.setText(str(exc))
            return
        self._load_projects()
        self.project_picker.combo.setCurrentIndex(self.project_picker.combo.findData(str(project.path)))

    def _add_project(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Add a project folder")
        if name:
            self.add_project(Path(name))

    def _index_project(self) -> None:
        """Index the chosen project (BACKGROUND: generation and searches go first), and watch it:
        a change to its files refreshes the index while the window is open."""
        project = self.project_picker.current()
        if not self.ctx.closed:
            self.ctx.project_watch.follow(project, self.projectFilesChanged.emit)
        if project is None:
            self.project_picker.state.clear()
            return
        if self.index_handle is not None:
            self.index_handle.cancel()  # what it committed stays; the new index goes on from there
        try:
            store = open_store(self.ctx.paths.home, project)
            handle = submit_index(self.ctx.engine, self.ctx.registry, store, project,
                                  exports=self.ctx.embedder_exports)
        except (MissingModelError, ModelNotFoundError) as exc:
            self.project_picker.state.setText(f"{exc}".split(". ")[0] + ": the request goes without project code")
            return
        except (OSError, RuntimeError, ValueError) as exc:
            self.project_picker.state.setText(str(exc))
            return
        self.index_handle = handle
        self.project_picker.state.setText("Indexing…")
        self.bridge.watch(handle, self._on_index_event)

    def _on_index_event(self, event: JobEvent) -> None:
        if event.handle is not self.index_handle:
            return
        if event.kind is EventKind.PROGRESS and event.payload.message:
            self.project_picker.state.setText(event.payload.message)
        elif event.kind is EventKind.FINISHED:
            self.index_handle = None
            report = event.payload
            self.project_picker.state.setText(
                f"Indexed: {report.refresh.added + report.refresh.changed} files read, {report.embedded} chunks embedded"
                + (f"; {'; '.join(report.notes)}" if report.notes else ""))
            self.project_picker.state.setToolTip(report.describe())
        elif event.kind is EventKind.FAILED:
            self.index_handle = None
            log.error("project indexing failed: %s", event.payload)
            self.project_picker.state.setText(f"Indexing failed: {event.payload}")
        elif event.kind is EventKind.CANCELLED:
            self.index_handle = None

    def _open_source(self, path: str, line: int) -> None:
        """Open a source at its first line, in an editor that can be told the line."""
        self.status.setText(open_at_line(Path(path), line) or f"Opened {Path(path).name} at line {line}")
