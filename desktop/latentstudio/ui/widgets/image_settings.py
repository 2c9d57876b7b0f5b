"""The generation settings panel: model, seed, steps, guidance, size, scheduler, count, init image."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QRegularExpression
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ...imagegen.metadata import ImageMetadata
from ...imagegen.request import MAX_COUNT, MAX_SIZE, MAX_STEPS, ImageRequest
from ...imagegen.schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES
from ...library.scan import file_dialog_filter
from ...models import InstalledModel

class ImageSettingsPanel(QWidget):
    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.model = QComboBox()
        self.model.setObjectName("model")
        self.model.setToolTip("The image model; add more on the Models page")
        self.seed = QLineEdit()
        self.seed.setObjectName("seed")
        self.seed.setPlaceholderText("random")
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,20}")))
        self.seed.setToolTip("Blank: a random seed, recorded with the image. Any whole number from 0 to 2^64 − 1")
        random_seed = QPushButton("Random")
        random_seed.setToolTip("Clear the seed so each Generate picks a new one")
        random_seed.clicked.connect(self.seed.clear)
        self.steps = QSpinBox()
        self.steps.setObjectName("steps")
        self.steps.setRange(1, MAX_STEPS)
        self.steps.setValue(25)
        self.steps.setToolTip("Denoising steps: more is slower and usually finer; 1-4 for Turbo/LCM models")
        self.guidance = QDoubleSpinBox()
        self.guidance.setObjectName("guidance")
        self.guidance.setRange(0, 30)
        self.guidance.setSingleStep(0.5)
        self.guidance.setValue(7.0)
        self.guidance.setToolTip("CFG scale; about 1-2 for Turbo/LCM models")
        self.width_box, self.height_box = self._size_box("width"), self._size_box("height")
        self.scheduler = QComboBox()
        self.scheduler.setObjectName("scheduler")
        self.scheduler.addItems(SCHEDULER_NAMES)
        self.scheduler.setCurrentText(DEFAULT_SCHEDULER)
        self.scheduler.setToolTip("The sampler (A1111 names); DPM++ 2M Karras suits most models")
        self.count = QSpinBox()
        self.count.setObjectName("count")
        self.count.setRange(1, MAX_COUNT)
        self.count.setToolTip("How many images to queue; each gets the next seed")
        self.init_image = QLineEdit()
        self.init_image.setObjectName("init-image")
        self.init_image.setPlaceholderText("none: text to image")
        self.init_image.setToolTip("A picture to start from (image to image); drop one on the page or pick one")
        browse = QPushButton("Browse…")
        browse.setToolTip("Pick the picture to start from")
        browse.clicked.connect(self._browse_init)
        clear = QPushButton("Clear")
        clear.setToolTip("Start from noise again (text to image)")
        clear.clicked.connect(self.init_image.clear)
        self.strength = QDoubleSpinBox()
        self.strength.setObjectName("strength")
        self.strength.setRange(0.01, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(0.75)
        self.strength.setToolTip("How much of the init image to change (1 = ignore it)")

        self.file_format = QComboBox()
        self.file_format.setObjectName("file-format")
        for label, value in (("PNG", "png"), ("JPEG", "jpeg"), ("WebP", "webp")):
            self.file_format.addItem(label, value)
        self.file_format.setToolTip(
            "PNG keeps every setting in text chunks; JPEG and WebP keep them as EXIF UserComment, "
            "as AUTOMATIC1111 writes them (other tools read all three)"
        )

        self._wanted_model: Optional[str] = None  # from restored settings, before models are listed

        form = QFormLayout(self)
        form.addRow("Model", self.model)
        form.addRow("Seed", _row(self.seed, random_seed))
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Size", _row(self.width_box, self.height_box))
        form.addRow("Scheduler", self.scheduler)
        form.addRow("Count", self.count)
        form.addRow("Init image", _row(self.init_image, browse, clear))
        form.addRow("Strength", self.strength)
        form.addRow("Save as", self.file_format)

    @staticmethod
    def _size_box(name: str) -> QSpinBox:
        box = QSpinBox()
        box.setObjectName(name)
        box.setRange(0, MAX_SIZE)
        box.setSingleStep(64)
        box.setSpecialValueText("model default")
        box.setToolTip(f"Image {name} in pixels, a multiple of 8; model default: the size it was trained at")
        return box

    def _browse_init(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Init image", "", file_dialog_filter())
        if path:
            self.init_image.setText(path)

    # -- models ----------------------------------------------------------------------------

    def set_models(self, models: list[InstalledModel], default: Optional[str]) -> None:
        current = self.model.currentData() or self._wanted_model or default
        self.model.clear()
        for model in models:
            label = model.id if not model.variant else f"{model.id} ({model.variant})"
            self.model.addItem(label, model.id)
        index = self.model.findData(current)
        self.model.setCurrentIndex(max(0, index))

    # -- values ----------------------------------------------------------------------------

    def request(self, prompt: str, negative: str) -> ImageRequest:
        """The form as a request (validated by the caller, which shows any error)."""
        seed_text = self.seed.text().strip()
        init_text = self.init_image.text().strip()
        return ImageRequest(
            prompt=prompt,
            negative_prompt=negative,
            seed=int(seed_text) if seed_text else None,
            steps=self.steps.value(),
            guidance=self.guidance.value(),
            width=self.width_box.value() or None,
            height=self.height_box.value() or None,
            scheduler=self.scheduler.currentText(),
            count=self.count.value(),
            init_image=Path(init_text) if init_text else None,
            strength=self.strength.value(),
            model_id=self.model.currentData(),
            file_format=self.file_format.currentData(),
        )

    def apply(self, meta: ImageMetadata) -> None:
        """Fill in whatever the metadata holds; the model only when an installed id matches exactly."""
        if meta.seed is not None:
            self.seed.setText(str(meta.seed))
        if meta.steps is not None:
            self.steps.setValue(meta.steps)
        if meta.guidance is not None:
            self.guidance.setValue(meta.guidance)
        if meta.width is not None and meta.height is not None:
            self.width_box.setValue(meta.width)
            self.height_box.setValue(meta.height)
        if meta.scheduler is not None:
            self.scheduler.setCurrentText(meta.scheduler)
        if meta.strength is not None:
            self.strength.setValue(meta.strength)
        if meta.model is not None:
            self._wanted_model = meta.model
            if self.model.findData(meta.model) >= 0:
                self.model.setCurrentIndex(self.model.findData(meta.model))


def _row(*widgets: QWidget) -> QWidget:
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return holder
