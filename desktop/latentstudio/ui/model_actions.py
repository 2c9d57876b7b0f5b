"""Model registry actions shared by every page: import (off the GUI thread) and change notices."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal

from ..context import AppContext
from ..models import InstalledModel
from .background import run_in_background


class ModelActions(QObject):
    modelsChanged = Signal()
    importStarted = Signal(str)  # path
    importFinished = Signal(object)  # InstalledModel
    importFailed = Signal(str)  # short message

    def __init__(self, ctx: AppContext, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.ctx = ctx

    def import_path(self, path: Path, kind: Optional[str] = None, link: bool = False) -> None:
        self.importStarted.emit(str(path))
        run_in_background(
            lambda: self.ctx.registry.import_path(Path(path), kind=kind or None, link=link),
            self._imported,
            lambda exc: self.importFailed.emit(str(exc)),
        )

    def _imported(self, model: InstalledModel) -> None:
        self.importFinished.emit(model)
        self.modelsChanged.emit()

    def set_default(self, model_id: str) -> None:
        self.ctx.registry.set_default(model_id)
        self.modelsChanged.emit()

    def remove(self, model_id: str) -> int:
        freed = self.ctx.registry.remove(model_id)
        self.modelsChanged.emit()
        return freed
