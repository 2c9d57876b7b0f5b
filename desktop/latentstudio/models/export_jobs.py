"""One tracked BACKGROUND export job per model, queued where the torch model had to be loaded
anyway, and waited for by a CLI command that wants the next run fast (`clip_exports`, and the
text-embedding models' `projects.embedder_exports`)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..engine import JobHandle, Priority
from .registry import InstalledModel

if TYPE_CHECKING:
    from ..engine import Engine, JobContext


class ExportJobs:
    """The export jobs of one kind of model; `engine` gives the engine (started on first need),
    `needed(installed, on_cpu)` whether the model needs an export now, `export(job, installed)`
    makes it on the inference thread."""

    def __init__(self, engine: Callable[[], "Engine"], needed: Callable[[InstalledModel, bool], bool],
                 export: Callable[["JobContext", InstalledModel], Any], name: str, kind: str):
        self._engine = engine
        self._needed = needed
        self._export = export
        self._name = name
        self._kind = kind
        self._pending: dict[str, JobHandle] = {}
        self._lock = threading.Lock()

    def submit(self, installed: InstalledModel, on_cpu: bool) -> Optional[JobHandle]:
        """Queue the export job unless the model needs none or it is already queued; `on_cpu`: the
        model's work runs on the CPU (where more may be worth exporting)."""
        if not self._needed(installed, on_cpu):
            return None
        with self._lock:
            handle = self._pending.get(installed.id)
            if handle is not None and not handle.done():
                return handle
            handle = self._pending[installed.id] = self._engine().submit(
                lambda job: self._export(job, installed), priority=Priority.BACKGROUND,
                name=self._name, kind=self._kind,
            )
            return handle

    def pending(self, model_id: str) -> Optional[JobHandle]:
        """The export job queued for this model, if one is still running or waiting."""
        with self._lock:
            handle = self._pending.get(model_id)
        return handle if handle is not None and not handle.done() else None

    def finish(self, model_id: str, before: Callable[[], None]) -> None:
        """Wait for the model's pending export, if any, after calling `before` (a CLI command says
        why it waits: so its next run is fast); Ctrl+C cancels it, to be made another time."""
        export = self.pending(model_id)
        if export is None:
            return
        before()
        try:
            export.result()
        except KeyboardInterrupt:
            export.cancel()
            export.wait()
