"""Upscale…: pick the picture, an installed upscaler, the scale and the tile size.

With no upscaler installed it shows the missing-model card instead (the recommended upscaler to
download, or Import), and turns into the form as soon as one arrives.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ...imagegen.upscale import CPU_TILE, GPU_TILE, MAX_SCALE, UpscaleRequest
from ...library.scan import file_dialog_filter
from ...models.upscalers import UPSCALER_KIND, upscaler_scale
from ...units import format_bytes
from .missing_model import MissingModelCard

if TYPE_CHECKING:
    from ..page_services import PageServices


class UpscaleDialog(QDialog):
    def __init__(self, services: "PageServices", picture: Optional[Path] = None, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("upscale-dialog")
        self.setWindowTitle("Upscale")
        self.registry = services.ctx.registry
        self.card = MissingModelCard(UPSCALER_KIND)
        self.card.attach_downloads(services.downloads)
        self.card.importRequested.connect(lambda path, kind: services.models.import_path(path, kind))
        self.card.openModels.connect(lambda kind: (self.reject(), services.requests.showPage.emit("models")))
        services.models.importFailed.connect(lambda text: self.card.message.setText(f"Import failed: {text}"))
        services.models.modelsChanged.connect(self.refresh_models)

        self.picture = QLineEdit(str(picture) if picture else "")
        self.picture.setObjectName("upscale-picture")
        self.picture.setPlaceholderText("A picture to upscale")
        self.picture.textChanged.connect(lambda _: self._update_ok())
        choose = QPushButton("Choose…")
        choose.setToolTip("Pick another picture")
        choose.clicked.connect(self._choose)
        picture_row = QHBoxLayout()
        picture_row.addWidget(self.picture, 1)
        picture_row.addWidget(choose)
        self.model = QComboBox()
        self.model.setObjectName("upscaler")
        self.model.setToolTip("The upscaler model; add more on the Models page")
        self.model.currentIndexChanged.connect(lambda _: self._model_chosen())
        self.scale = QDoubleSpinBox()
        self.scale.setObjectName("upscale-scale")
        self.scale.setRange(1.0, MAX_SCALE)
        self.scale.setSingleStep(0.5)
        self.scale.setDecimals(2)
        self.scale.setSuffix("×")
        self.scale.setToolTip("How many times larger. The model's own scale is quickest; more takes further "
                              "passes, less is resized down from the model's result")
        self.tile = QSpinBox()
        self.tile.setObjectName("upscale-tile")
        self.tile.setRange(0, 4096)
        self.tile.setSingleStep(64)
        self.tile.setSpecialValueText(f"Auto ({CPU_TILE} px on a CPU, {GPU_TILE} on a GPU)")
        self.tile.setValue(0)
        self.tile.setSuffix(" px")
        self.tile.setToolTip("The picture is upscaled in tiles of this size (overlapping, blended); "
                             "it halves by itself when memory runs out")
        form_widget = QWidget()
        form = QFormLayout(form_widget)
        form.addRow("Picture", picture_row)
        form.addRow("Upscaler", self.model)
        form.addRow("Scale", self.scale)
        form.addRow("Tile size", self.tile)
        self.about = QLabel()
        self.about.setObjectName("upscaler-about")
        self.about.setWordWrap(True)
        form.addRow(self.about)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.card)
        self.stack.addWidget(form_widget)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("Upscale", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setObjectName("upscale-start")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.buttons)
        self.refresh_models()

    @property
    def has_model(self) -> bool:
        return self.model.count() > 0

    def refresh_models(self) -> None:
        """The installed upscalers (default first selected), or the card when there is none."""
        chosen = self.model.currentData()
        default = self.registry.default(UPSCALER_KIND)
        self.model.blockSignals(True)
        self.model.clear()
        for model in self.registry.list(UPSCALER_KIND):
            architecture = model.extra.get("architecture", "")
            self.model.addItem(f"{model.id} ({model.variant or '?'}, {architecture})", model.id)
        wanted = chosen or (default.id if default else None)
        index = self.model.findData(wanted)
        self.model.setCurrentIndex(max(0, index))
        self.model.blockSignals(False)
        self.stack.setCurrentIndex(1 if self.has_model else 0)
        self._model_chosen()

    def _model_chosen(self) -> None:
        model_id = self.model.currentData()
        if model_id is None:
            self._update_ok()
            return
        model = self.registry.get(model_id)
        self.scale.setValue(float(upscaler_scale(model)))
        self.about.setText(f"{model.extra.get('architecture', 'An')} model, {model.variant or '?'} upscale, "
                           f"{format_bytes(model.size_bytes)}. The copy keeps the picture's settings.")
        self._update_ok()

    def _update_ok(self) -> None:
        self.ok.setEnabled(self.has_model and bool(self.picture.text().strip()))

    def _choose(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Choose a picture to upscale", "", file_dialog_filter())
        if chosen:
            self.picture.setText(chosen)

    def request(self) -> UpscaleRequest:
        return UpscaleRequest(
            Path(self.picture.text().strip()).expanduser(),
            self.model.currentData(),
            self.scale.value(),
            self.tile.value() or None,
        )
