"""The Settings page: data home, device, memory budget, idle unload, offline mode, the search's
default minimum score, the colour theme and the Ray cluster that indexes new pictures; persisted."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...config import DEVICE_CHOICES, THEME_CHOICES
from ...context import AppContext
from ...library.cluster_setup import cluster_support
from ...models.network import OFFLINE_ENV, offline_by_environment
from ..file_actions import open_file
from ..theme import THEME_LABELS, apply_theme

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
        self.device.setToolTip("Where models run; Automatic picks the GPU when there is one (applies at the next start)")
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
        self.offline.setToolTip("No downloads at all; models are imported from files you have")
        self.min_score = QDoubleSpinBox()
        self.min_score.setRange(-1.0, 1.0)
        self.min_score.setSingleStep(0.01)
        self.min_score.setDecimals(2)
        self.min_score.setToolTip("Search results scoring below this are hidden (the Search page can change it)")
        self.theme = QComboBox()
        for choice in THEME_CHOICES:
            self.theme.addItem(THEME_LABELS[choice], choice)
        self.theme.setToolTip("Light or dark; 'Follow the system' changes with your desktop's setting")
        self.cluster = QLineEdit()
        self.cluster.setObjectName("cluster-address")
        self.cluster.setPlaceholderText("none: index on this computer")
        self.cluster.setToolTip(
            "Encode new pictures on a Ray cluster: auto (the cluster this machine joined), local (a Ray "
            "runtime here), or the head's address, e.g. ray://head:10001. Scanning stays here; the "
            "vectors come back into this library.")
        support = cluster_support()
        self.cluster_note = QLabel("" if support["installed"] else
                                   f"Needs the cluster extra: {support['hint']}")
        self.cluster_note.setWordWrap(True)
        self.cluster_note.setVisible(not support["installed"])
        self.cluster.setEnabled(support["installed"])
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(self.load)
        self.save_button.setToolTip("Keep these settings (they apply at once, the device at the next start)")
        self.revert_button.setToolTip("Go back to the settings as last saved")

        self.open_home_button = QPushButton("Open")
        self.open_home_button.setToolTip("Show the data folder in your file manager")
        self.open_home_button.clicked.connect(lambda: self.status.setText(open_file(self.ctx.paths.home)))
        home_row = QHBoxLayout()
        home_row.addWidget(self.home, 1)
        home_row.addWidget(self.open_home_button)

        groups = (
            ("Appearance", (("Theme:", self.theme),)),
            ("Search", (("Default minimum score:", self.min_score),)),
            ("Models and memory", (("Device:", self.device), ("Model memory budget:", self.memory),
                                   ("Unload idle models after:", self.idle))),
            ("Network", (("", self.offline),)),
            ("Cluster", (("Index on:", self.cluster), ("", self.cluster_note))),
            ("Data", (("Data folder:", home_row),)),
        )
        column = QVBoxLayout()
        for title, rows in groups:
            box = QGroupBox(title)
            form = QFormLayout(box)
            for label, field in rows:
                form.addRow(label, field)
            column.addWidget(box)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        column.addLayout(buttons)
        column.addWidget(self.status)
        column.addStretch(1)
        panel = QWidget()
        panel.setLayout(column)
        panel.setMaximumWidth(720)  # a settings form reads as a column, not a line across the screen
        layout = QHBoxLayout(self)
        layout.addWidget(panel, 1)
        layout.addStretch(0)
        self.load()

    def load(self) -> None:
        settings = self.ctx.settings
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))
        self.memory.setValue(settings.memory_budget_gb)
        self.idle.setValue(settings.idle_unload_minutes)
        by_environment = offline_by_environment()
        self.offline.setChecked(settings.offline_mode or by_environment)
        self.offline.setEnabled(not by_environment)
        if by_environment:
            self.offline.setToolTip(f"{OFFLINE_ENV} is set in the environment: the app stays offline")
        self.min_score.setValue(settings.search_min_score)
        self.theme.setCurrentIndex(max(0, self.theme.findData(settings.theme)))
        self.cluster.setText(settings.cluster_address)
        self.status.setText("\n".join(settings.problems))

    def save(self) -> None:
        device_changed = self.device.currentData() != self.ctx.settings.device
        try:
            self.ctx.settings.update(
                device=self.device.currentData(),
                memory_budget_gb=self.memory.value(),
                idle_unload_minutes=self.idle.value(),
                # Forced on by the environment: the stored choice stays as the user left it.
                offline_mode=self.offline.isChecked() if self.offline.isEnabled() else self.ctx.settings.offline_mode,
                search_min_score=round(self.min_score.value(), 2),
                theme=self.theme.currentData(),
                cluster_address=self.cluster.text(),
            )
            self.ctx.save_settings()
        except (OSError, ValueError) as exc:
            self.status.setText(f"Could not save settings: {exc}")
            return
        apply_theme(self.ctx.settings.theme)
        note = " The device choice applies after a restart." if device_changed else ""
        self.status.setText("Saved." + note)
        self.saved.emit()
