"""The card a page shows in place of its tools while the model it needs is not installed.

It offers the kind's recommended model for this computer (name, download size and licence
shown before anything happens; it downloads only when the user clicks) and Import.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...engine import EventKind, JobEvent
from ...models.registry import KIND_LABELS
from ...units import format_bytes

if TYPE_CHECKING:
    from ..downloads import DownloadController

NEEDS = {
    "clip": "Search needs a CLIP model: it turns your photos and your words into comparable vectors.",
    "diffusion": "Image generation needs a diffusion model (a diffusers folder or a .safetensors checkpoint).",
    "llm": "Code generation needs a local language model (a transformers folder).",
    "upscaler": "Upscaling needs an upscaler model: a super-resolution model such as Real-ESRGAN "
                "(.safetensors or .pth, e.g. from an A1111 or ComfyUI models folder).",
}
FILE_FILTERS = {"upscaler": "Upscaler models (*.safetensors *.pth)"}


class MissingModelCard(QFrame):
    """Says what is missing and offers the ways in. Emits `importRequested(path)` or `openModels()`.

    Downloads go through the window's DownloadController, given with `attach_downloads`.
    """

    importRequested = Signal(object, str)  # (Path, kind)
    openModels = Signal(str)  # kind

    def __init__(self, kind: str, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.kind = kind
        self.downloads: Optional["DownloadController"] = None
        self.setObjectName(f"missing-model-{kind}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        title = QLabel(f"<b>No {KIND_LABELS.get(kind, kind)} model installed</b>")
        text = QLabel(NEEDS.get(kind, ""))
        text.setWordWrap(True)
        self.offer = QLabel("")
        self.offer.setWordWrap(True)
        self.offer.setOpenExternalLinks(True)
        self.offer.hide()
        self.download_button = QPushButton("Download")
        self.download_button.hide()
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.hide()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.hide()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.import_folder_button = QPushButton("Import folder…")
        self.import_file_button = QPushButton("Import file…")
        self.models_button = QPushButton("Browse models to download…")
        self.import_folder_button.clicked.connect(self._import_folder)
        self.import_file_button.clicked.connect(self._import_file)
        self.models_button.clicked.connect(lambda: self.openModels.emit(self.kind))
        self.download_button.clicked.connect(self._download)
        self.cancel_button.clicked.connect(self._cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.import_folder_button)
        buttons.addWidget(self.import_file_button)
        # Language models are folders (config, tokenizer, weights): a single file cannot be one.
        if kind == "llm":
            self.import_file_button.hide()
        buttons.addWidget(self.models_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addWidget(self.offer)
        layout.addLayout(buttons)
        layout.addWidget(self.bar)
        layout.addWidget(self.message)
        layout.setAlignment(Qt.AlignmentFlag.AlignTop)

    # -- downloads -----------------------------------------------------------------------

    def attach_downloads(self, downloads: "DownloadController") -> None:
        if self.downloads is downloads:
            return
        self.downloads = downloads
        downloads.jobEvent.connect(self._download_event)
        downloads.recommendationsChanged.connect(self.refresh_offer)
        self.refresh_offer()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API: the offline switch may have changed
        self.refresh_offer()
        super().showEvent(event)

    def recommended_entry(self):
        return self.downloads.recommended(self.kind) if self.downloads is not None else None

    def refresh_offer(self) -> None:
        entry = self.recommended_entry()
        if entry is None:
            self.offer.hide()
            self.download_button.hide()
            return
        link = f'<a href="{entry.licence_url}">{entry.licence}</a>' if entry.licence_url else entry.licence
        self.offer.setText(
            f"Recommended for this computer: <b>{entry.name}</b> — {entry.good_for}<br>"
            f"Download: {format_bytes(entry.size_bytes)} from {entry.repo}. Licence: {link}"
        )
        self.offer.show()
        running = self.downloads is not None and self.downloads.job_for(entry.id) is not None
        blocked = self.downloads.blocked_reason() if self.downloads is not None else ""
        self.download_button.setText(f"Download ({format_bytes(entry.size_bytes)})")
        self.download_button.setVisible(not running)
        self.download_button.setEnabled(not blocked)
        self.download_button.setToolTip(blocked or f"Fetch {format_bytes(entry.size_bytes)} from {entry.repo}")
        if blocked:
            self.message.setText(f"{blocked} Import a model you already have.")
        self.cancel_button.setVisible(running)
        self.bar.setVisible(running)

    def _download(self) -> None:
        entry = self.recommended_entry()
        if entry is not None and self.downloads is not None:
            self.message.setText(f"Starting the download of {entry.name}…")
            self.downloads.start(entry.id)
            self.refresh_offer()

    def _cancel(self) -> None:
        entry = self.recommended_entry()
        if entry is not None and self.downloads is not None:
            self.downloads.cancel(entry.id)

    def _download_event(self, event: JobEvent) -> None:
        job = event.handle
        if job.entry.kind != self.kind:
            return
        if event.kind is EventKind.PROGRESS and job.detail is not None:
            fraction = job.detail.fraction
            self.bar.setValue(int(1000 * fraction) if fraction is not None else 0)
            self.message.setText(f"{job.entry.name}: {job.detail.describe()}")
        elif event.kind is EventKind.FINISHED:
            self.message.setText(f"Installed {job.entry.name}.")
        elif event.kind is EventKind.CANCELLED:
            self.message.setText("Download cancelled.")
        elif event.kind is EventKind.FAILED:
            self.message.setText(f"Download failed: {event.payload}")
        self.refresh_offer()

    # -- imports -------------------------------------------------------------------------

    def _import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a model folder")
        if folder:
            self.importRequested.emit(Path(folder), self.kind)

    def _import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a model file", filter=FILE_FILTERS.get(self.kind, "Safetensors checkpoints (*.safetensors)")
        )
        if path:
            self.importRequested.emit(Path(path), self.kind)
