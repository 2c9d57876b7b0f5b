"""The Jobs panel: running and queued jobs with progress bars and Cancel buttons.

It reads the one event stream (the bridge), and the status bar's job summary comes from it, so
the two never disagree."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ..engine import EventKind, JobEvent, JobState, Priority, TrackedJob
from .bridge import EventBridge

MAX_FINISHED_ROWS = 8


class JobRow(QWidget):
    def __init__(self, handle: TrackedJob, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.handle = handle
        self.setObjectName(f"job-{handle.id}")
        self.title = QLabel(handle.name)
        self.title.setWordWrap(True)  # long model and prompt names wrap inside the panel
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel("waiting")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: palette(mid);")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)  # empty while waiting: a full bar would read as done
        self.bar.setValue(0)
        self.bar.setFormat("waiting")
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop this job (a running one stops at its next step)")
        self.cancel_button.clicked.connect(self._cancel)
        self.running = False
        self.waiting = True
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.status.setText("cancelling…")
        self.handle.cancel()

    def apply(self, event: JobEvent) -> None:
        if event.kind is EventKind.STARTED:
            self.running, self.waiting = True, False
            self.bar.setRange(0, 0)  # busy until the first progress event
            self.status.setText("running")
        elif event.kind is EventKind.PROGRESS:
            progress = event.payload
            if progress.total:
                self.bar.setRange(0, 1000)
                self.bar.setValue(int(1000 * (progress.fraction or 0)))
                self.bar.setFormat(f"{progress.done:g} / {progress.total:g}")
            if progress.message:
                self.status.setText(progress.message)
        elif event.kind.final:
            self.finish(self.handle.state, event.payload)

    def finish(self, state: JobState, payload: object = None) -> None:
        self.running = self.waiting = False
        self.cancel_button.setEnabled(False)
        self.cancel_button.hide()
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if state is JobState.FINISHED else 0)
        self.bar.setFormat(state.value)
        text = {JobState.FINISHED: "done", JobState.CANCELLED: "cancelled"}.get(state)
        if state is JobState.FAILED:
            text = f"failed: {payload}"
        self.status.setText(text or state.value)


class JobsPanel(QWidget):
    summaryChanged = Signal(str)  # e.g. "Running: Index 3 folders · 2 queued", or "Idle"

    def __init__(self, bridge: EventBridge, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.rows: dict[int, JobRow] = {}
        self._finished: list[int] = []
        self.empty = QLabel("No jobs. Generations, indexing and downloads show here.")
        self.empty.setWordWrap(True)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.setToolTip("Remove the finished, failed and cancelled jobs from this list")
        self.clear_button.clicked.connect(self.clear_finished)
        self._list = QVBoxLayout()
        self._list.addWidget(self.empty)
        self._list.addStretch(1)
        inner = QWidget()
        inner.setLayout(self._list)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # rows wrap instead
        scroll.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        layout.addWidget(self.clear_button)
        bridge.jobEvent.connect(self.on_job_event)

    def row_for(self, handle: TrackedJob) -> Optional[JobRow]:
        return self.rows.get(handle.id)

    def on_job_event(self, event: JobEvent) -> None:
        handle = event.handle
        # Interactive jobs (queries as you type) answer in a blink: rows would only flicker.
        if handle is None or handle.priority is Priority.INTERACTIVE:
            return
        row = self.rows.get(handle.id)
        if row is None:
            row = JobRow(handle)
            self.rows[handle.id] = row
            self._list.insertWidget(0, row)
            self.empty.hide()
        row.apply(event)
        if event.kind.final:
            self._finished.append(handle.id)
            while len(self._finished) > MAX_FINISHED_ROWS:
                old = self.rows.pop(self._finished.pop(0), None)
                if old is not None:
                    old.deleteLater()
        self.summaryChanged.emit(self.summary())

    def clear_finished(self) -> None:
        for job_id in self._finished:
            row = self.rows.pop(job_id, None)
            if row is not None:
                row.deleteLater()
        self._finished.clear()
        self.empty.setVisible(not self.rows)

    def summary(self) -> str:
        """What is running and how much waits, from the rows' last events."""
        running = [row for row in self.rows.values() if row.running]
        waiting = sum(1 for row in self.rows.values() if row.waiting)
        if not running and not waiting:
            return "Idle"
        text = f"Running: {running[0].handle.name}" if running else "Waiting"
        if len(running) > 1:
            text += f" (+{len(running) - 1})"
        if waiting:
            text += f" · {waiting} queued"
        return text
