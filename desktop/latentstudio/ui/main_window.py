"""The main window: page navigation, status bar (device, queue) and the Jobs panel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QListWidgetItem,
    QStyle,
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
from .jobs_panel import JobsPanel
from .page_services import PageServices


@dataclass(frozen=True)
class PageSpec:
    """One page of the window: a new page is one entry in PAGES."""

    name: str
    title: str
    icon: str  # a Qt standard icon name, shown in the navigation
    factory: Callable[[PageServices], QWidget]  # imports lazily, so the window shows before they load


def _search(services: PageServices) -> QWidget:
    from .pages.search_page import SearchPage

    return SearchPage(services)


def _image(services: PageServices) -> QWidget:
    from .pages.image_page import ImagePage

    return ImagePage(services)


def _code(services: PageServices) -> QWidget:
    from .pages.code_page import CodePage

    return CodePage(services)


def _models(services: PageServices) -> QWidget:
    from .pages.models_page import ModelsPage

    return ModelsPage(services)


def _settings(services: PageServices) -> QWidget:
    from .pages.settings_page import SettingsPage

    return SettingsPage(services.ctx)


PAGES: tuple[PageSpec, ...] = (
    PageSpec("search", "Search", "SP_FileDialogContentsView", _search),
    PageSpec("image", "Image", "SP_DesktopIcon", _image),
    PageSpec("code", "Code", "SP_FileDialogDetailedView", _code),
    PageSpec("models", "Models", "SP_DriveHDIcon", _models),
    PageSpec("settings", "Settings", "SP_FileDialogInfoView", _settings),
)


class MainWindow(QMainWindow):
    firstPainted = Signal()

    def __init__(self, ctx: AppContext, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Latent Studio")
        self.resize(1200, 800)
        self.services = PageServices.create(ctx, self)
        self.bridge = self.services.bridge
        self.model_actions = self.services.models
        requests = self.services.requests
        requests.showPage.connect(self.show_page)
        requests.moreLikeThis.connect(lambda path: self.show_page("search").search_by_image(path))
        requests.useAsInitImage.connect(lambda path: self.show_page("image").use_as_init_image(path))
        requests.reuseSettings.connect(lambda path: self.show_page("image").reuse_settings_from(path))

        # Pages are built on first use (the first one now, the rest right after the first
        # paint), each in its own slot of the stack, so their imports never delay the window.
        self.pages: dict[str, QWidget] = {}
        self._slots: dict[str, QWidget] = {}
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(140)
        self.stack = QStackedWidget()
        for spec in PAGES:
            icon = self.style().standardIcon(getattr(QStyle.StandardPixmap, spec.icon))
            self.nav.addItem(QListWidgetItem(icon, spec.title))
            slot = QWidget()
            QVBoxLayout(slot).setContentsMargins(0, 0, 0, 0)
            self._slots[spec.name] = slot
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
        self.jobs_panel.summaryChanged.connect(self.queue_label.setText)
        for problem in ctx.settings.problems:
            self.statusBar().showMessage(f"Settings: {problem}", 15000)

        self._painted = False
        self.installEventFilter(self)

    # -- navigation ----------------------------------------------------------------------

    def show_page(self, name: str) -> QWidget:
        index = [spec.name for spec in PAGES].index(name)
        self.nav.setCurrentRow(index)
        return self.page(name)

    def page(self, name: str) -> QWidget:
        if name not in self.pages:
            spec = next(spec for spec in PAGES if spec.name == name)
            page = spec.factory(self.services)
            self.pages[name] = page
            self._slots[name].layout().addWidget(page)
        return self.pages[name]

    def build_remaining_pages(self) -> None:
        """Build the pages not shown yet, one per turn of the event loop."""
        missing = [spec.name for spec in PAGES if spec.name not in self.pages]
        if missing:
            self.page(missing[0])
            QTimer.singleShot(0, self.build_remaining_pages)

    def _navigate(self, row: int) -> None:
        if row < 0:
            return
        self.page(PAGES[row].name)
        self.stack.setCurrentIndex(row)

    # -- engine --------------------------------------------------------------------------

    def attach_engine(self) -> None:
        """Start the engine (its events already reach the bridge), warm the search model and detect
        the device (importing torch) off this thread."""
        self.bridge.start_engine()
        search = self.pages.get("search")
        if search is not None:
            search.warm_up()  # before device detection, which waits for it
        self.ctx.engine.detect_device_in_background()

    def _device_ready(self, device: DeviceInfo) -> None:
        self.device_label.setText(f"Device: {device.describe()}")
        self.device_label.setToolTip(device.fallback_reason or "")

    def show_error(self, message: str) -> None:
        """An error nobody else reported: a short sentence in the status bar (details in the log)."""
        self.statusBar().showMessage(message, 30000)

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
