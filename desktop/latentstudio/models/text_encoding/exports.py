"""Text-tower exports queued as BACKGROUND jobs: at most one waiting or running per model."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable, Optional

from ...engine import JobHandle, Priority
from ..registry import InstalledModel
from .encoder import export_in_job, needs_export

if TYPE_CHECKING:
    from ...engine import Engine


class TextExports:
    """Owned by the application context; `engine` gives the engine (started on first need)."""

    def __init__(self, engine: Callable[[], "Engine"]):
        self._engine = engine
        self._pending: dict[str, JobHandle] = {}
        self._lock = threading.Lock()

    def submit(self, installed: InstalledModel) -> Optional[JobHandle]:
        """Queue the export unless it is not needed or already queued."""
        if not needs_export(installed):
            return None
        with self._lock:
            handle = self._pending.get(installed.id)
            if handle is not None and not handle.done():
                return handle
            handle = self._pending[installed.id] = self._engine().submit(
                lambda job: export_in_job(job, installed), priority=Priority.BACKGROUND,
                name="Prepare fast text search", kind="text-export",
            )
            return handle

    def pending(self, model_id: str) -> Optional[JobHandle]:
        """The export job queued for this model, if one is still running or waiting."""
        with self._lock:
            handle = self._pending.get(model_id)
        return handle if handle is not None and not handle.done() else None
