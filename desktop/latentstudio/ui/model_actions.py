"""Model registry actions shared by every page: import (off the GUI thread) and change notices."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal

from ..context import AppContext
from ..models.batch_import import ImportOutcome, import_any
from .background import run_in_background


class ModelActions(QObject):
    modelsChanged = Signal()
    importStarted = Signal(str)  # path
    importFinished = Signal(object)  # InstalledModel
    importFailed = Signal(str)  # short message
    importSummary = Signal(str)  # a folder of models: what came in and what was refused, in words

    def __init__(self, ctx: AppContext, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.ctx = ctx

    def import_path(self, path: Path, kind: Optional[str] = None, link: bool = False,
                    weights_only: bool = False) -> None:
        """Import one model, or each model of a folder of models, off the GUI thread: the same
        path as `latent-studio models import` (models/batch_import.py)."""
        self.importStarted.emit(str(path))
        registry = self.ctx.registry
        run_in_background(
            lambda: import_any(registry, Path(path), kind=kind or None, link=link, weights_only=weights_only),
            self._imported,
            lambda exc: self.importFailed.emit(str(exc)),
        )

    def _imported(self, outcomes: list[ImportOutcome]) -> None:
        done = [o.model for o in outcomes if o.model is not None]
        refused = "; ".join(f"{o.path.name}: {o.error}" for o in outcomes if o.error)
        if len(outcomes) == 1 and done:
            self.importFinished.emit(done[0])
        elif not done:
            self.importFailed.emit(refused)
        else:
            self.importSummary.emit(f"Imported {len(done)} of {len(outcomes)} models ("
                                    f"{', '.join(m.id for m in done)})." + (f" Refused: {refused}" if refused else ""))
        if done:
            self.modelsChanged.emit()

    def set_default(self, model_id: str) -> None:
        self.ctx.registry.set_default(model_id)
        self.modelsChanged.emit()

    def remove(self, model_id: str) -> int:
        freed = self.ctx.registry.remove(model_id)
        self.modelsChanged.emit()
        return freed
