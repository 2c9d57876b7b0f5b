"""The main window: page navigation, status bar (device, queue) and the Jobs panel."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..context import AppContext
from ..engine import DeviceInfo
from .bridge import EngineBridge
from .jobs_panel import JobsPanel
from .model_actions import ModelActions

PAGES = (("search", "Search"), ("image", "Image"), ("code", "Code"), ("models", "Models"), ("settings", "Settings"))


def _build_page(name: str, window: "MainWindow") -> QWidget:
    """Import and build one page; the imports are here so the window shows before they load."""
    ctx, bridge, models = window.ctx, window.bridge, window.model_actions
    if name == "search":
        from .pages.search_page import SearchPage

        return SearchPage(ctx, bridge, models)
    if name == "image":
        from .pages.image_page import ImagePage

        return ImagePage(ctx, bridge, models)
    if name == "code":
        from .pages.code_page import CodePage

        return CodePage(ctx, bridge, models)
    if name == "models":
        from .pages.models_page import ModelsPage

        return ModelsPage(ctx, bridge, models)
    if name == "settings":
        from .pages.settings_page import SettingsPage

        return SettingsPage(ctx)
    raise KeyError(name)


class MainWindow(QMainWindow):
    firstPainted = Signal()

    def __init__(self, ctx: AppContext, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Latent Studio")
        self.resize(1200, 800)
        self.bridge = EngineBridge(self)
        self.model_actions = ModelActions(ctx, self)

        # Pages are built on first use (the first one now, the rest right after the first
        # paint), each in its own slot of the stack, so their imports never delay the window.
        self.pages: dict[str, QWidget] = {}
        self._slots: dict[str, QWidget] = {}
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(140)
        self.stack = QStackedWidget()
        for name, label in PAGES:
            self.nav.addItem(label)
            slot = QWidget()
            QVBoxLayout(slot).setContentsMargins(0, 0, 0, 0)
            self._slots[name] = slot
            self.stack.addWidget(slot)
        self.nav.currentRowChanged.connect(self._navigate)
        self.nav.setCurrentRow(0)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.jobs_panel = JobsPanel(self.bridge)
        self.jobs_dock = QDockWidget("Jobs", self)
        self.jobs_dock.setObjectName("jobs-dock")
        self.jobs_dock.setWidget(self.jobs_panel)
        self.jobs_dock.setMinimumWidth(240)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.jobs_dock)

        self.device_label = QLabel("Device: starting…")
        self.queue_label = QLabel("Idle")
        self.statusBar().addWidget(self.device_label, 1)
        self.statusBar().addPermanentWidget(self.queue_label)
        self.bridge.deviceReady.connect(self._device_ready)
        self.bridge.queueChanged.connect(self._queue_changed)
        for problem in ctx.settings.problems:
            self.statusBar().showMessage(f"Settings: {problem}", 15000)

        self._painted = False
        self.installEventFilter(self)

    # -- navigation ----------------------------------------------------------------------

    def show_page(self, name: str) -> QWidget:
        index = [n for n, _ in PAGES].index(name)
        self.nav.setCurrentRow(index)
        return self.page(name)

    def page(self, name: str) -> QWidget:
        if name not in self.pages:
            page = _build_page(name, self)
            self.pages[name] = page
            self._slots[name].layout().addWidget(page)
        return self.pages[name]

    def build_remaining_pages(self) -> None:
        """Build the pages not shown yet, one per turn of the event loop."""
        missing = [name for name, _ in PAGES if name not in self.pages]
        if missing:
            self.page(missing[0])
            QTimer.singleShot(0, self.build_remaining_pages)

    def _navigate(self, row: int) -> None:
        if row < 0:
            return
        self.page(PAGES[row][0])
        self.stack.setCurrentIndex(row)

    # -- engine --------------------------------------------------------------------------

    def attach_engine(self) -> None:
        """Start the engine, follow its events and detect the device (importing torch) off this thread."""
        self.bridge.attach(self.ctx.engine)
        self.ctx.engine.detect_device_in_background()

    def _device_ready(self, device: DeviceInfo) -> None:
        self.device_label.setText(f"Device: {device.describe()}")
        self.device_label.setToolTip(device.fallback_reason or "")

    def _queue_changed(self) -> None:
        engine = self.bridge.engine
        if engine is None:
            return
        running = engine.active()
        queued = engine.queued()
        if not running and not queued:
            self.queue_label.setText("Idle")
            return
        text = f"Running: {running[-1].name}" if running else "Starting"
        if queued:
            text += f" · {len(queued)} queued"
        self.queue_label.setText(text)

    # -- lifecycle -----------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self and not self._painted and event.type() == QEvent.Type.Paint:
            self._painted = True
            self.firstPainted.emit()
            QTimer.singleShot(0, self.build_remaining_pages)
        return super().eventFilter(watched, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.bridge.detach()
        super().closeEvent(event)
