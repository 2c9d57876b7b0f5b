"""The card a page shows in place of its tools while the model it needs is not installed."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...models.registry import KIND_LABELS

NEEDS = {
    "clip": "Search needs a CLIP model: it turns your photos and your words into comparable vectors.",
    "diffusion": "Image generation needs a diffusion model (a diffusers folder or a .safetensors checkpoint).",
    "llm": "Code generation needs a local language model (a transformers folder).",
}


class MissingModelCard(QFrame):
    """Says what is missing and offers the ways in. Emits `importRequested(path)` or `openModels()`."""

    importRequested = Signal(object, str)  # (Path, kind)
    openModels = Signal(str)  # kind

    def __init__(self, kind: str, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.kind = kind
        self.setObjectName(f"missing-model-{kind}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        title = QLabel(f"<b>No {KIND_LABELS.get(kind, kind)} model installed</b>")
        text = QLabel(NEEDS.get(kind, ""))
        text.setWordWrap(True)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.import_folder_button = QPushButton("Import folder…")
        self.import_file_button = QPushButton("Import file…")
        self.models_button = QPushButton("Browse models to download…")
        self.import_folder_button.clicked.connect(self._import_folder)
        self.import_file_button.clicked.connect(self._import_file)
        self.models_button.clicked.connect(lambda: self.openModels.emit(self.kind))
        buttons = QHBoxLayout()
        buttons.addWidget(self.models_button)
        buttons.addWidget(self.import_folder_button)
        buttons.addWidget(self.import_file_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.setAlignment(Qt.AlignmentFlag.AlignTop)

    def _import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a model folder")
        if folder:
            self.importRequested.emit(Path(folder), self.kind)

    def _import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a model file", filter="Safetensors checkpoints (*.safetensors)"
        )
        if path:
            self.importRequested.emit(Path(path), self.kind)
