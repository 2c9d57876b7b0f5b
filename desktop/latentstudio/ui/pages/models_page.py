"""The Models page: installed models per kind, default, remove, import by dialog or drag and drop,
and the catalogue with Download (size and licence shown first), progress and Cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...engine import EventKind, JobEvent
from ...models.catalogue import CatalogueEntry
from ...models.addons import ADDON_KINDS, family_label
from ...models.registry import KIND_TITLES, format_label
from ...units import format_bytes
from ..downloads import DownloadController
from ..page_services import PageServices


def _wrapped(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def download_failure_text(event: JobEvent) -> str:
    return f"Download failed: {event.payload}"


class CatalogueRow(QFrame):
    """One catalogue model: what it is, its size and licence, and Download / progress / Cancel."""

    def __init__(self, entry: CatalogueEntry, downloads: DownloadController, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.entry = entry
        self.downloads = downloads
        self.setObjectName(f"catalogue-{entry.id}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        self.details = QLabel(
            f"{KIND_TITLES.get(entry.kind, entry.kind)} · {entry.repo} · "
            f"{format_bytes(entry.size_bytes)} download<br>"
            f"Licence: <a href=\"{entry.licence_url}\">{entry.licence}</a><br>{entry.good_for}"
        )
        self.details.setWordWrap(True)
        self.details.setOpenExternalLinks(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.hide()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip(f"Fetch {format_bytes(entry.size_bytes)} from the Hugging Face Hub")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.download_button.clicked.connect(lambda: downloads.start(entry.id))
        self.cancel_button.clicked.connect(lambda: downloads.cancel(entry.id))
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.details)
        text.addWidget(self.bar)
        text.addWidget(self.status)
        buttons = QVBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addLayout(text, 1)
        layout.addLayout(buttons)
        self.refresh()

    def refresh(self) -> None:
        recommended = self.downloads.recommended(self.entry.kind)
        mark = " — recommended for this computer" if recommended and recommended.id == self.entry.id else ""
        self.title.setText(f"<b>{self.entry.name}</b>{mark}")
        installed = self.entry.id in self.downloads.installed_ids()
        running = self.downloads.job_for(self.entry.id) is not None
        blocked = self.downloads.blocked_reason()
        self.download_button.setVisible(not running)
        self.download_button.setEnabled(not installed and not blocked)
        self.download_button.setToolTip(
            blocked or f"Fetch {format_bytes(self.entry.size_bytes)} from the Hugging Face Hub")
        kept = 0 if installed or running else self.downloads.partial_bytes(self.entry.id)
        if installed:
            self.download_button.setText("Installed")
        elif kept:
            self.download_button.setText(f"Resume ({format_bytes(kept)} kept)")
        else:
            self.download_button.setText("Download")
        self.cancel_button.setVisible(running)
        self.bar.setVisible(running)

    def apply(self, event: JobEvent) -> None:
        job = event.handle
        if event.kind in (EventKind.QUEUED, EventKind.STARTED):
            self.status.setText("Waiting for another download…" if event.kind is EventKind.QUEUED else "Starting…")
        elif event.kind is EventKind.PROGRESS and job.detail is not None:
            fraction = job.detail.fraction
            self.bar.setValue(int(1000 * fraction) if fraction is not None else 0)
            self.status.setText(job.detail.describe())
        elif event.kind is EventKind.FINISHED:
            self.status.setText(f"Installed as {event.payload.id}.")
        elif event.kind is EventKind.CANCELLED:
            kept = not getattr(event.payload, "discard", True)
            self.status.setText("Stopped; it resumes from what was kept." if kept else "Cancelled.")
        elif event.kind is EventKind.FAILED:
            self.status.setText(download_failure_text(event))
        self.refresh()


class ModelsPage(QWidget):
    def __init__(self, services: PageServices, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.ctx = services.ctx
        self.actions = models = services.models
        self.setAcceptDrops(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Model", "Format", "Size", "Source"])
        self.tree.setRootIsDecorated(True)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.import_folder_button = QPushButton("Import folder…")
        self.import_file_button = QPushButton("Import file…")
        self.import_folder_button.setToolTip("Add a model you have as a folder (open_clip, diffusers, transformers)")
        self.import_file_button.setToolTip("Add a model you have as one file (.safetensors checkpoint)")
        self.link_box = QCheckBox("Link instead of copying")
        self.link_box.setToolTip("Use the files where they are, without a copy (for large checkpoints)")
        self.pickle_box = QCheckBox("Accept pickle checkpoints (.ckpt/.bin)")
        self.pickle_box.setToolTip(
            "Read them with PyTorch's weights_only loader, which refuses anything that would run "
            "code, and install a .safetensors copy"
        )
        self.default_button = QPushButton("Make default")
        self.remove_button = QPushButton("Remove…")
        self.default_button.setToolTip("Use the selected model for its kind of work from now on")
        self.remove_button.setToolTip("Forget the selected model and free its copy (asks first); linked files stay where they are")
        self.status = QLabel("Drop a model folder or .safetensors file here to import it.")
        self.status.setWordWrap(True)
        self.import_folder_button.clicked.connect(self._import_folder)
        self.import_file_button.clicked.connect(self._import_file)
        self.default_button.clicked.connect(self._make_default)
        self.remove_button.clicked.connect(self._remove)
        models.modelsChanged.connect(self.refresh)
        models.importStarted.connect(lambda path: self.status.setText(f"Importing {path}…"))
        models.importFinished.connect(
            lambda m: self.status.setText(f"Imported {m.id} ({format_label(m.format)}, {format_bytes(m.size_bytes)}).")
        )
        models.importFailed.connect(lambda text: self.status.setText(f"Import refused: {text}"))
        models.importSummary.connect(self.status.setText)

        self.downloads = services.downloads
        self.catalogue_rows: dict[str, CatalogueRow] = {}
        rows_holder = QWidget()
        rows_layout = QVBoxLayout(rows_holder)
        for entry in self.downloads.entries():
            row = CatalogueRow(entry, self.downloads)
            self.catalogue_rows[entry.id] = row
            rows_layout.addWidget(row)
        if self.downloads.problem:
            rows_layout.addWidget(QLabel(self.downloads.problem))
        rows_layout.addStretch(1)
        rows_scroll = QScrollArea()
        rows_scroll.setWidgetResizable(True)
        rows_scroll.setWidget(rows_holder)
        self.downloads.jobEvent.connect(self._download_event)
        self.downloads.recommendationsChanged.connect(self._refresh_rows)

        buttons = QHBoxLayout()
        for widget in (self.import_folder_button, self.import_file_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.default_button)
        buttons.addWidget(self.remove_button)
        options = QHBoxLayout()  # their own row: the check boxes never run into the buttons
        options.addWidget(self.link_box)
        options.addWidget(self.pickle_box)
        options.addStretch(1)
        installed = QWidget()
        installed_layout = QVBoxLayout(installed)
        installed_layout.addWidget(_wrapped("<b>Installed models</b> (the default of each kind in bold)"))
        installed_layout.addWidget(self.tree, 1)
        installed_layout.addLayout(buttons)
        installed_layout.addLayout(options)
        available = QWidget()
        available_layout = QVBoxLayout(available)
        available_layout.addWidget(_wrapped(
            "<b>Download</b> (from the Hugging Face Hub; nothing is fetched until you click Download)"
        ))
        available_layout.addWidget(rows_scroll, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(installed)
        splitter.addWidget(available)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)
        self.refresh()

    def refresh(self) -> None:
        self.tree.clear()
        defaults = self.ctx.registry.defaults()
        installed = self.ctx.registry.list()
        for kind, title in KIND_TITLES.items():
            group = QTreeWidgetItem([title])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(group)
            models = [m for m in installed if m.kind == kind]
            if not models:
                QTreeWidgetItem(group, ["(none installed)"]).setFlags(Qt.ItemFlag.NoItemFlags)
            for model in models:
                source = model.source + (" (linked)" if model.linked else "")
                label = format_label(model.format)
                if kind in ADDON_KINDS:  # an add-on says which models it fits
                    label += f" · for {family_label(model.variant)}"
                item = QTreeWidgetItem(group, [model.id, label, format_bytes(model.size_bytes), source])
                item.setData(0, Qt.ItemDataRole.UserRole, model.id)
                words = ", ".join(model.extra.get("trigger_words") or [])
                if words:
                    item.setToolTip(0, f"Trigger words: {words}")
                if kind in ADDON_KINDS:
                    continue  # add-ons have no default: each is used by name
                if defaults.get(kind) == model.id or (kind not in defaults and model is models[0]):
                    font = item.font(0)
                    font.setBold(True)
                    item.setFont(0, font)
            group.setExpanded(True)
        for column in range(3):
            self.tree.resizeColumnToContents(column)
        self._selection_changed()
        self._refresh_rows()

    def _refresh_rows(self) -> None:
        for row in getattr(self, "catalogue_rows", {}).values():
            row.refresh()

    def start_download(self, entry_id: str) -> None:
        self.downloads.start(entry_id)

    def _download_event(self, event: JobEvent) -> None:
        row = self.catalogue_rows.get(event.handle.entry.id)
        if row is not None:
            row.apply(event)
        if event.kind is EventKind.FAILED:
            self.status.setText(download_failure_text(event))

    def selected_id(self) -> Optional[str]:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def _selection_changed(self) -> None:
        selected = self.selected_id() is not None
        self.default_button.setEnabled(selected)
        self.remove_button.setEnabled(selected)

    def _import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a model folder, or a folder of models")
        if folder:
            self.import_paths([Path(folder)])

    def _import_file(self) -> None:
        pattern = "*.safetensors *.ckpt *.bin *.pt *.pth" if self.pickle_box.isChecked() else "*.safetensors"
        path, _ = QFileDialog.getOpenFileName(self, "Import a model file", filter=f"Checkpoints ({pattern})")
        if path:
            self.import_paths([Path(path)])

    def import_paths(self, paths: list[Path]) -> None:
        """Import models (a folder of models imports each one) off the GUI thread."""
        for path in paths:
            self.actions.import_path(path, link=self.link_box.isChecked(), weights_only=self.pickle_box.isChecked())

    def _make_default(self) -> None:
        model_id = self.selected_id()
        if model_id:
            self.actions.set_default(model_id)

    def _remove(self) -> None:
        model_id = self.selected_id()
        if not model_id:
            return
        model = self.ctx.registry.get(model_id)
        space = "nothing (a linked model)" if model.linked else format_bytes(model.size_bytes)
        answer = QMessageBox.question(
            self, "Remove model", f"Remove {model.id}? This frees {space}."
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.actions.remove(model_id)
            self.status.setText(f"Removed {model_id}; freed {space}.")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and all(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.import_paths([Path(url.toLocalFile()) for url in event.mimeData().urls()])
        event.acceptProposedAction()
