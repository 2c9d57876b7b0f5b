"""The Image page's LoRAs and embeddings: pick installed LoRAs (several at once, each with a weight
slider) and put an embedding's word into the prompt or the negative prompt.

Only add-ons made for the chosen model's family are offered; the LoRAs picked become
`<lora:NAME:W>` tags added to the prompt when it is generated, as A1111 writes them.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...imagegen.prompt_syntax import LoraTag
from ...models import InstalledModel
from ...models.addons import family_label

WEIGHT_LIMIT = 2.0
SLIDER_STEPS = 100  # slider ticks per 1.0 of weight


def _fits(model: InstalledModel, family: Optional[str]) -> bool:
    return not model.variant or not family or model.variant == family


class LoraRow(QWidget):
    removed = Signal(str)

    def __init__(self, model_id: str, weight: float, tip: str, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.model_id = model_id
        self.setObjectName(f"lora-{model_id}")
        self._te_weight: Optional[float] = None  # a separate text-encoder weight read from an image
        name = QLabel(model_id)
        name.setToolTip(tip)
        name.setMinimumWidth(60)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(int(-WEIGHT_LIMIT * SLIDER_STEPS), int(WEIGHT_LIMIT * SLIDER_STEPS))
        self.slider.setToolTip("Weight: 1 is the LoRA as trained, 0 turns it off, below 0 works against it")
        self.weight = QDoubleSpinBox()
        self.weight.setObjectName("lora-weight")
        self.weight.setRange(-WEIGHT_LIMIT, WEIGHT_LIMIT)
        self.weight.setSingleStep(0.05)
        self.weight.setDecimals(2)
        remove = QToolButton()
        remove.setText("✕")
        remove.setToolTip(f"Stop using {model_id}")
        remove.clicked.connect(lambda: self.removed.emit(self.model_id))
        self.slider.valueChanged.connect(lambda v: self.weight.setValue(v / SLIDER_STEPS))
        self.weight.valueChanged.connect(lambda v: self.slider.setValue(round(v * SLIDER_STEPS)))
        self.weight.valueChanged.connect(self._forget_te_weight)
        self.weight.setValue(weight)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(name)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.weight)
        layout.addWidget(remove)

    def _forget_te_weight(self) -> None:
        self._te_weight = None  # the user set one weight for both parts

    def set_weights(self, te_weight: float, unet_weight: float) -> None:
        self.weight.setValue(unet_weight)
        self._te_weight = te_weight if te_weight != unet_weight else None

    def tag(self) -> LoraTag:
        unet = round(self.weight.value(), 2)
        te = unet if self._te_weight is None else self._te_weight
        return LoraTag(self.model_id, te, unet)


class AddonPicker(QWidget):
    """Emits `embeddingChosen(word, negative)` for the page to put the word in a prompt box."""

    embeddingChosen = Signal(str, bool)
    lorasChanged = Signal()
    loraPicked = Signal(str)  # by the user, from the list

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("addon-picker")
        self._loras: dict[str, InstalledModel] = {}
        self.rows: dict[str, LoraRow] = {}
        self.add_lora = QComboBox()
        self.add_lora.setObjectName("add-lora")
        self.add_lora.activated.connect(self._lora_chosen)
        self.add_embedding = QComboBox()
        self.add_embedding.setObjectName("add-embedding")
        self.add_embedding.setToolTip(
            "Put an embedding's word in the prompt (or, with Shift held when choosing, the negative prompt); "
            "negative embeddings belong in the negative prompt"
        )
        self.add_embedding.activated.connect(self._embedding_chosen)
        self.to_negative = QToolButton()
        self.to_negative.setObjectName("embedding-to-negative")
        self.to_negative.setText("to negative")
        self.to_negative.setCheckable(True)
        self.to_negative.setChecked(True)
        self.to_negative.setToolTip("Checked: the embedding's word goes in the negative prompt")
        self.rows_box = QVBoxLayout()
        self.rows_box.setContentsMargins(0, 0, 0, 0)
        pickers = QHBoxLayout()
        pickers.addWidget(self.add_lora, 1)
        pickers.addWidget(self.add_embedding, 1)
        pickers.addWidget(self.to_negative)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(pickers)
        layout.addLayout(self.rows_box)

    # -- installed add-ons ------------------------------------------------------------------

    def set_installed(self, loras: list[InstalledModel], embeddings: list[InstalledModel], family: Optional[str]) -> None:
        """Offer what fits `family` (sd1 / sd2 / sdxl; None: unknown, offer all)."""
        self._loras = {m.id: m for m in loras}
        fitting = [m for m in loras if _fits(m, family)]
        self.add_lora.clear()
        self.add_lora.addItem(f"Add LoRA ({len(fitting)})" if loras else "No LoRAs")
        self.add_lora.setToolTip(
            f"Add a LoRA to the next images (several can be used at once): {len(fitting)} of the "
            f"{len(loras)} installed are made for {family_label(family)}, the chosen model's family"
            if loras else "No LoRAs installed: import them on the Models page or with "
            "`latent-studio models import FOLDER --kind lora --link`"
        )
        for model in fitting:
            self.add_lora.addItem(model.id, model.id)
            self.add_lora.setItemData(self.add_lora.count() - 1, self._tip(model), Qt.ItemDataRole.ToolTipRole)
        fitting_emb = [m for m in embeddings if _fits(m, family)]
        self.add_embedding.clear()
        self.add_embedding.addItem(f"Add embedding ({len(fitting_emb)})" if embeddings else "No embeddings")
        for model in fitting_emb:
            self.add_embedding.addItem(model.id, model.id)
        for model_id in [i for i in self.rows if i in self._loras and not _fits(self._loras[i], family)]:
            self.remove(model_id)  # a LoRA for another family than the chosen model

    @staticmethod
    def _tip(model: InstalledModel) -> str:
        words = ", ".join(model.extra.get("trigger_words") or [])
        return f"{model.id}: for {family_label(model.variant)}" + (f"; trigger words: {words}" if words else "")

    def _lora_chosen(self, index: int) -> None:
        model_id = self.add_lora.itemData(index)
        self.add_lora.setCurrentIndex(0)
        if model_id:
            self.add(LoraTag(str(model_id)))
            self.loraPicked.emit(str(model_id))

    def _embedding_chosen(self, index: int) -> None:
        word = self.add_embedding.itemData(index)
        self.add_embedding.setCurrentIndex(0)
        if word:
            self.embeddingChosen.emit(str(word), self.to_negative.isChecked())

    # -- the picked LoRAs -------------------------------------------------------------------

    def add(self, tag: LoraTag) -> LoraRow:
        row = self.rows.get(tag.name)
        if row is None:
            model = self._loras.get(tag.name)
            row = LoraRow(tag.name, tag.unet_weight, self._tip(model) if model else tag.name)
            row.removed.connect(self.remove)
            self.rows[tag.name] = row
            self.rows_box.addWidget(row)
            self.lorasChanged.emit()
        row.set_weights(tag.te_weight, tag.unet_weight)
        return row

    def remove(self, model_id: str) -> None:
        row = self.rows.pop(model_id, None)
        if row is not None:
            row.setParent(None)
            row.deleteLater()
            self.lorasChanged.emit()

    def set_loras(self, tags: list[LoraTag]) -> None:
        for model_id in list(self.rows):
            self.remove(model_id)
        for tag in tags:
            self.add(tag)

    def tags(self) -> list[LoraTag]:
        return [row.tag() for row in self.rows.values()]

    def prompt_suffix(self) -> str:
        """The `<lora:…>` tags to add to the prompt."""
        return " ".join(tag.tag() for tag in self.tags())
