"""Base for pages that need a model of one kind: the missing-model card until one is installed."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QStackedLayout, QVBoxLayout, QWidget

from ...models.registry import KIND_LABELS
from ..page_services import PageServices
from ..widgets.missing_model import MissingModelCard


class NeedsModelPage(QWidget):
    """Subclasses set `kind` and implement `build_content()`; `refresh_models()` is called on changes."""

    kind = "clip"

    def __init__(self, services: PageServices, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.services = services
        self.ctx = services.ctx
        self.bridge = services.bridge
        self.model_actions = models = services.models
        self.requests = services.requests
        self.card = MissingModelCard(self.kind)
        self.card.attach_downloads(services.downloads)
        self.card.importRequested.connect(lambda path, kind: models.import_path(path, kind))
        self.card.openModels.connect(lambda kind: self.requests.showPage.emit("models"))
        models.importStarted.connect(lambda path: self.card.message.setText(f"Importing {path}…"))
        models.importFailed.connect(lambda text: self.card.message.setText(f"Import failed: {text}"))
        models.importFinished.connect(self._imported)
        models.importSummary.connect(self.card.message.setText)
        card_holder = QWidget()
        card_layout = QVBoxLayout(card_holder)
        card_layout.addWidget(self.card)
        self.content = self.build_content()
        for widget in self.card_extras():
            card_layout.addWidget(widget)
        card_layout.addStretch(1)
        self._stack = QStackedLayout(self)
        self._stack.addWidget(card_holder)
        self._stack.addWidget(self.content)
        models.modelsChanged.connect(self.refresh_models)
        self.refresh_models()

    def _imported(self, model) -> None:
        """The card no longer says "Importing…": it says what arrived, and whether it is what this page needs."""
        if model.kind == self.kind:
            self.card.message.setText(f"Imported {model.id}.")
        else:
            label = KIND_LABELS.get(model.kind, model.kind)
            self.card.message.setText(f"Imported {model.id} ({label} model); this page still needs a "
                                      f"{KIND_LABELS.get(self.kind, self.kind)} model.")

    @property
    def shows_tools(self) -> bool:
        """Whether the page shows its own tools (else the missing-model card)."""
        return self._stack.currentWidget() is self.content

    @property
    def has_model(self) -> bool:
        return self.ctx.registry.default(self.kind) is not None

    def build_content(self) -> QWidget:
        raise NotImplementedError

    def card_extras(self) -> list[QWidget]:
        """What the page offers below its missing-model card (what works without that model)."""
        return []

    def refresh_models(self) -> None:
        self._stack.setCurrentIndex(1 if self.has_model else 0)

