"""The Models page: installed models per kind, default, remove, import by dialog or drag and drop."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...context import AppContext
from ...models.registry import KIND_LABELS
from ..bridge import EngineBridge
from ..model_actions import ModelActions


def format_size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


class ModelsPage(QWidget):
    def __init__(
        self,
        ctx: AppContext,
        bridge: EngineBridge,
        models: ModelActions,
        parent: Optional[QWidget] = None,
    ):
        super().__init__(parent)
        self.ctx = ctx
        self.actions = models
        self.setAcceptDrops(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Model", "Format", "Size", "Source"])
        self.tree.setRootIsDecorated(True)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.import_folder_button = QPushButton("Import folder…")
        self.import_file_button = QPushButton("Import file…")
        self.link_box = QCheckBox("Link instead of copying")
        self.link_box.setToolTip("Use the files where they are, without a copy (for large checkpoints)")
        self.default_button = QPushButton("Make default")
        self.remove_button = QPushButton("Remove…")
        self.status = QLabel("Drop a model folder or .safetensors file here to import it.")
        self.status.setWordWrap(True)
        self.import_folder_button.clicked.connect(self._import_folder)
        self.import_file_button.clicked.connect(self._import_file)
        self.default_button.clicked.connect(self._make_default)
        self.remove_button.clicked.connect(self._remove)
        models.modelsChanged.connect(self.refresh)
        models.importStarted.connect(lambda path: self.status.setText(f"Importing {path}…"))
        models.importFinished.connect(
            lambda m: self.status.setText(f"Imported {m.id} ({m.format}, {format_size(m.size_bytes)}).")
        )
        models.importFailed.connect(lambda text: self.status.setText(f"Import refused: {text}"))

        buttons = QHBoxLayout()
        for widget in (self.import_folder_button, self.import_file_button, self.link_box):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.default_button)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Installed models</b> (the default of each kind in bold)"))
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.refresh()

    def refresh(self) -> None:
        self.tree.clear()
        defaults = self.ctx.registry.defaults()
        installed = self.ctx.registry.list()
        for kind, label in KIND_LABELS.items():
            group = QTreeWidgetItem([label.capitalize()])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(group)
            models = [m for m in installed if m.kind == kind]
            if not models:
                QTreeWidgetItem(group, ["(none installed)"]).setFlags(Qt.ItemFlag.NoItemFlags)
            for model in models:
                source = model.source + (" (linked)" if model.linked else "")
                item = QTreeWidgetItem(group, [model.id, model.format, format_size(model.size_bytes), source])
                item.setData(0, Qt.ItemDataRole.UserRole, model.id)
                if defaults.get(kind) == model.id or (kind not in defaults and model is models[0]):
                    font = item.font(0)
                    font.setBold(True)
                    item.setFont(0, font)
            group.setExpanded(True)
        for column in range(3):
            self.tree.resizeColumnToContents(column)
        self._selection_changed()

    def selected_id(self) -> Optional[str]:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def _selection_changed(self) -> None:
        selected = self.selected_id() is not None
        self.default_button.setEnabled(selected)
        self.remove_button.setEnabled(selected)

    def _import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a model folder")
        if folder:
            self.actions.import_path(Path(folder), link=self.link_box.isChecked())

    def _import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a model file", filter="Safetensors checkpoints (*.safetensors)"
        )
        if path:
            self.actions.import_path(Path(path), link=self.link_box.isChecked())

    def _make_default(self) -> None:
        model_id = self.selected_id()
        if model_id:
            self.actions.set_default(model_id)

    def _remove(self) -> None:
        model_id = self.selected_id()
        if not model_id:
            return
        model = self.ctx.registry.get(model_id)
        space = "nothing (a linked model)" if model.linked else format_size(model.size_bytes)
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
        for url in event.mimeData().urls():
            self.actions.import_path(Path(url.toLocalFile()), link=self.link_box.isChecked())
        event.acceptProposedAction()
