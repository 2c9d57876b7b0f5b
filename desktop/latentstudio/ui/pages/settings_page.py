"""The Settings page: data home, device, memory budget, idle unload, offline mode; persisted."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...config import DEVICE_CHOICES
from ...context import AppContext

DEVICE_LABELS = {
    "auto": "Automatic (CUDA, then Apple Metal, then CPU)",
    "cuda": "NVIDIA GPU (CUDA)",
    "mps": "Apple GPU (Metal)",
    "cpu": "CPU only",
}


class SettingsPage(QWidget):
    saved = Signal()

    def __init__(self, ctx: AppContext, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.ctx = ctx
        self.home = QLabel(str(ctx.paths.home))
        self.home.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.device = QComboBox()
        for choice in DEVICE_CHOICES:
            self.device.addItem(DEVICE_LABELS[choice], choice)
        self.memory = QDoubleSpinBox()
        self.memory.setRange(0, 4096)
        self.memory.setDecimals(1)
        self.memory.setSuffix(" GiB")
        self.memory.setSpecialValueText("Automatic")
        self.memory.setToolTip("How much memory models may keep resident; least recently used are unloaded first")
        self.idle = QDoubleSpinBox()
        self.idle.setRange(0, 24 * 60)
        self.idle.setDecimals(0)
        self.idle.setSuffix(" min")
        self.idle.setSpecialValueText("Never")
        self.idle.setToolTip("Unload a model that has not been used for this long")
        self.offline = QCheckBox("Fully offline: never connect to the network")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(self.load)

        form = QFormLayout()
        form.addRow("Data folder:", self.home)
        form.addRow("Device:", self.device)
        form.addRow("Model memory budget:", self.memory)
        form.addRow("Unload idle models after:", self.idle)
        form.addRow("", self.offline)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.load()

    def load(self) -> None:
        settings = self.ctx.settings
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))
        self.memory.setValue(settings.memory_budget_gb)
        self.idle.setValue(settings.idle_unload_minutes)
        self.offline.setChecked(settings.offline_mode)
        self.status.setText("\n".join(settings.problems))

    def save(self) -> None:
        device_changed = self.device.currentData() != self.ctx.settings.device
        try:
            self.ctx.settings.update(
                device=self.device.currentData(),
                memory_budget_gb=self.memory.value(),
                idle_unload_minutes=self.idle.value(),
                offline_mode=self.offline.isChecked(),
            )
            self.ctx.save_settings()
        except (OSError, ValueError) as exc:
            self.status.setText(f"Could not save settings: {exc}")
            return
        note = " The device choice applies after a restart." if device_changed else ""
        self.status.setText("Saved." + note)
        self.saved.emit()
