"""The generation settings panel: model, seed, steps, guidance, size, scheduler, count, init image
with its painted mask and outpainting border, hires fix."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QRegularExpression, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ...imagegen.metadata import ImageMetadata
from ...imagegen.request import LATENT_UPSCALER, MAX_COUNT, MAX_SIZE, MAX_STEPS, ImageRequest
from ...imagegen.schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES
from ...library.scan import file_dialog_filter
from ...models import InstalledModel
from .mask_painter import PaintedMask

class ImageSettingsPanel(QWidget):
    paintRequested = Signal()  # Paint… with an init image: the page opens the mask painter

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.painted: Optional[PaintedMask] = None
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
        self.mask_label = QLabel("none: the whole picture")
        self.mask_label.setObjectName("mask-summary")
        self.mask_label.setWordWrap(True)
        self.mask_label.setToolTip("Paint the part of the init image to repaint, or extend its canvas (outpainting)")
        self.paint = QPushButton("Paint…")
        self.paint.setObjectName("paint-mask")
        self.paint.setToolTip("Paint what to repaint on the init image, or drag its edges out to outpaint")
        self.paint.clicked.connect(self.paintRequested)
        clear_mask = QPushButton("Clear")
        clear_mask.setToolTip("Repaint the whole picture again (no mask, no border)")
        clear_mask.clicked.connect(lambda: self.set_mask(None))
        self.init_image.textChanged.connect(lambda: self.set_mask(None))  # a mask belongs to its picture
        self.hires_scale = QDoubleSpinBox()
        self.hires_scale.setObjectName("hires-scale")
        self.hires_scale.setRange(1.0, 4.0)
        self.hires_scale.setSingleStep(0.25)
        self.hires_scale.setDecimals(2)
        self.hires_scale.setPrefix("×")
        self.hires_scale.setSpecialValueText("off")
        self.hires_scale.setToolTip("Hires fix: generate at the model's size, upscale by this much, then refine "
                                    "(one job); off at ×1")
        self.hires_strength = QDoubleSpinBox()
        self.hires_strength.setObjectName("hires-strength")
        self.hires_strength.setRange(0.05, 1.0)
        self.hires_strength.setSingleStep(0.05)
        self.hires_strength.setValue(0.5)
        self.hires_strength.setToolTip("How much the refining pass changes the upscaled picture")
        self.hires_upscaler = QComboBox()
        self.hires_upscaler.setObjectName("hires-upscaler")
        self.hires_upscaler.setToolTip("How the picture is enlarged before refining: in latent space, or by an "
                                       "upscaler model (Models page)")
        self.set_upscalers([])
        for widget in (self.hires_strength, self.hires_upscaler):
            widget.setEnabled(False)
        self.hires_scale.valueChanged.connect(
            lambda value: [w.setEnabled(value > 1.0) for w in (self.hires_strength, self.hires_upscaler)])

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
        form.addRow("Mask", _row(self.paint, clear_mask))
        form.addRow("", self.mask_label)
        form.addRow("Hires fix", _row(self.hires_scale, self.hires_strength))
        form.addRow("Upscaler", self.hires_upscaler)
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

    # -- mask and hires fix ----------------------------------------------------------------

    def set_mask(self, painted: Optional[PaintedMask]) -> None:
        """The painted mask and border for the init image (None: the whole picture)."""
        self.painted = painted
        if painted is None:
            self.mask_label.setText("none: the whole picture")
            return
        parts = []
        if painted.mask is not None:
            parts.append("only masked" if painted.masked_only else "mask")
            parts.append(f"feather {painted.blur} px")
        if any(painted.outpaint):
            parts.append("border " + ",".join(str(p) for p in painted.outpaint))
        self.mask_label.setText(" · ".join(parts))

    def set_upscalers(self, models: list[InstalledModel]) -> None:
        current = self.hires_upscaler.currentData()
        self.hires_upscaler.clear()
        self.hires_upscaler.addItem("Latent (no model)", LATENT_UPSCALER)
        for model in models:
            self.hires_upscaler.addItem(model.id, model.id)
        self.hires_upscaler.setCurrentIndex(max(0, self.hires_upscaler.findData(current)))

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
        painted = self.painted if init_text else None
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
            mask=painted.mask if painted else None,
            mask_blur=painted.blur if painted else 4,
            masked_only=painted.masked_only if painted else False,
            outpaint=painted.outpaint if painted else (0, 0, 0, 0),
            hires_scale=self.hires_scale.value(),
            hires_strength=self.hires_strength.value(),
            hires_upscaler=self.hires_upscaler.currentData() or LATENT_UPSCALER,
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
        if meta.hires_scale is not None:  # the mask itself is not in the file: only the hires pass returns
            self.hires_scale.setValue(meta.hires_scale)
            if meta.hires_strength is not None:
                self.hires_strength.setValue(meta.hires_strength)
            upscaler = self.hires_upscaler.findData(meta.hires_upscaler)
            if upscaler >= 0:
                self.hires_upscaler.setCurrentIndex(upscaler)
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
