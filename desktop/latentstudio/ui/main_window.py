"""The main window: page navigation, menus and shortcuts, status bar (device, jobs) and the Jobs
panel, which stays collapsed to the status bar until asked for. Its size, position and splitters
are remembered between sessions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..context import AppContext
from ..engine import DeviceInfo
from .jobs_panel import JobsPanel
from .icons import ICON_LICENCE
from .navigation_rail import NavigationRail
from .page_services import PageServices
from .theme import apply_theme
from .widgets.side_section import SideSection


DEFAULT_SIZE = (1200, 780)
# The other pages are built this long after the first paint (one per turn of the event loop: the
# Image page's is the longest step, about 0.14 s), so a query typed as the window shows is
# answered first instead of waiting behind them.
OTHER_PAGES_AFTER_MS = 1000


@dataclass(frozen=True)
class PageSpec:
    """One page of the window: a new page is one entry in PAGES."""

    name: str
    title: str
    icon: str  # a name in `icons.GLYPHS`, shown in the navigation rail
    summary: str  # the rail button's tooltip: what the page is for
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


def _map(services: PageServices) -> QWidget:
    from .pages.map_page import MapPage

    return MapPage(services)


def _duplicates(services: PageServices) -> QWidget:
    from .pages.duplicates_page import DuplicatesPage

    return DuplicatesPage(services)


def _settings(services: PageServices) -> QWidget:
    from .pages.settings_page import SettingsPage

    page = SettingsPage(services.ctx)
    page.saved.connect(services.downloads.recommendationsChanged)  # offline may have changed
    return page


PAGES: tuple[PageSpec, ...] = (
    PageSpec("search", "Search", "search", "Find pictures in your folders by describing them or by an example", _search),
    PageSpec("image", "Image", "image", "Generate images from a prompt", _image),
    PageSpec("code", "Code", "code", "Write, explain, fix or translate code with a local language model", _code),
    PageSpec("map", "Map", "map", "Your library laid out by likeness, with its themes", _map),
    PageSpec("duplicates", "Duplicates", "duplicates", "Find exact and near duplicate pictures", _duplicates),
    PageSpec("models", "Models", "models", "Download, import and choose models", _models),
    PageSpec("settings", "Settings", "settings", "Theme, search defaults, offline mode, memory", _settings),
)


class _JobsDock(QDockWidget):
    """The Jobs panel's dock, placed (docked or floating) by the window just before it shows."""

    def __init__(self, title: str, window: QMainWindow, place: Callable[[], None]):
        super().__init__(title, window)
        self._place = place

    def setVisible(self, visible: bool) -> None:  # noqa: N802 (Qt override: the toggle action, show() and hide())
        if visible and not self.isVisible():
            self._place()
        super().setVisible(visible)


class MainWindow(QMainWindow):
    firstPainted = Signal()

    def __init__(self, ctx: AppContext, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Latent Studio")
        self._fit_first_size()
        apply_theme(ctx.settings.theme)
        self._state = QSettings(str(ctx.paths.home / "window-state.ini"), QSettings.Format.IniFormat)
        self.services = PageServices.create(ctx, self)
        self.bridge = self.services.bridge
        self.model_actions = self.services.models
        requests = self.services.requests
        requests.showPage.connect(self.show_page)
        requests.moreLikeThis.connect(lambda path: self.show_page("search").search_by_image(path))
        requests.useAsInitImage.connect(lambda path: self.show_page("image").use_as_init_image(path))
        requests.reuseSettings.connect(lambda path: self.show_page("image").reuse_settings_from(path))
        requests.describePicture.connect(lambda path: self.show_page("image").describe_picture(path))

        # Pages are built on first use (the first one now, the rest soon after the first
        # paint), each in its own slot of the stack, so their imports never delay the window.
        self.pages: dict[str, QWidget] = {}
        self._slots: dict[str, QWidget] = {}
        self.nav = NavigationRail()
        self.stack = QStackedWidget()
        for number, spec in enumerate(PAGES, start=1):
            self.nav.add(spec.title, spec.icon, f"{spec.summary} (Ctrl+{number})")
            slot = QWidget()
            QVBoxLayout(slot).setContentsMargins(0, 0, 0, 0)
            self._slots[spec.name] = slot
            self.stack.addWidget(slot)
        self.nav.currentChanged.connect(self._navigate)
        self.nav.set_current_index(0)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.jobs_panel = JobsPanel(self.bridge)
        self.jobs_dock = _JobsDock("Jobs", self, self._place_jobs_panel)
        self.jobs_dock.setObjectName("jobs-dock")
        self.jobs_dock.setWidget(self.jobs_panel)
        self.jobs_dock.setMinimumWidth(240)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.jobs_dock)
        self.jobs_dock.hide()  # collapsed to the status bar's job summary until asked for
        self._jobs_floated_for_room = False

        self.device_label = QLabel("Device: starting…")
        self.queue_label = QToolButton()
        self.queue_label.setObjectName("jobs-summary")
        self.queue_label.setText("Idle")
        self.queue_label.setAutoRaise(True)
        self.queue_label.setToolTip("Show or hide the Jobs panel (Ctrl+J)")
        self.queue_label.clicked.connect(lambda: self.jobs_dock.setVisible(not self.jobs_dock.isVisible()))
        self.statusBar().addWidget(self.device_label, 1)
        self.statusBar().addPermanentWidget(self.queue_label)
        self.bridge.deviceReady.connect(self._device_ready)
        self.jobs_panel.summaryChanged.connect(self.queue_label.setText)
        self._build_menus()
        self._restore_geometry()
        for problem in ctx.settings.problems:
            self.statusBar().showMessage(f"Settings: {problem}", 15000)

        self._painted = False
        self.installEventFilter(self)
        # The pages not shown yet are built after the first paint, one per turn of the event loop;
        # the timer is the window's, stopped when it closes (a closed window's services are gone).
        self._page_builder = QTimer(self)
        self._page_builder.setSingleShot(True)
        self._page_builder.timeout.connect(self.build_remaining_pages)

    def _place_jobs_panel(self) -> None:
        """Docked where the page leaves it room; else floating over the window's right edge: a dock
        the page cannot make room for would widen the window, and only the user sizes the window."""
        dock = self.jobs_dock
        if dock.isFloating() and not self._jobs_floated_for_room:
            return  # floated by the user: theirs to place
        spare = self.width() - self.centralWidget().minimumSizeHint().width()
        fits = spare >= dock.minimumSizeHint().width() + self.style().pixelMetric(
            QStyle.PixelMetric.PM_DockWidgetSeparatorExtent)
        if fits == (not dock.isFloating()):
            return
        self._jobs_floated_for_room = not fits
        dock.setFloating(not fits)
        if not fits:
            width = dock.minimumSizeHint().width()
            inside = self.centralWidget().geometry()
            corner = self.mapToGlobal(QPoint(inside.right() - width, inside.top()))
            dock.setGeometry(QRect(corner, QSize(width, inside.height())))

    def open_image_settings(self, path: Optional[Path] = None) -> None:
        """File ▸ Open image to read settings…: the picture goes to the Image page as a drop would."""
        if path is None:
            from ..library.scan import file_dialog_filter  # the library's list of image types, when asked

            chosen, _ = QFileDialog.getOpenFileName(self, "Open image to read settings", "", file_dialog_filter())
            if not chosen:
                return
            path = Path(chosen)
        self.show_page("image").take_picture(path)

    # -- menus ---------------------------------------------------------------------------

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        read = file_menu.addAction("&Open image to read settings…", QKeySequence.StandardKey.Open,
                                   self.open_image_settings)
        read.setToolTip("Fill the Image form from the settings a picture carries (Latent Studio, "
                        "AUTOMATIC1111, ComfyUI, InvokeAI…), as dropping it on the Image page does")
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit", QKeySequence.StandardKey.Quit, self.close)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        edit = menus.addMenu("&Edit")
        for title, key, slot in (("&Undo", QKeySequence.StandardKey.Undo, "undo"),
                                 ("&Redo", QKeySequence.StandardKey.Redo, "redo"),
                                 (None, None, None),
                                 ("Cu&t", QKeySequence.StandardKey.Cut, "cut"),
                                 ("&Copy", QKeySequence.StandardKey.Copy, "copy"),
                                 ("&Paste", QKeySequence.StandardKey.Paste, "paste"),
                                 ("Select &all", QKeySequence.StandardKey.SelectAll, "selectAll")):
            if title is None:
                edit.addSeparator()
                continue
            action = edit.addAction(title, lambda slot=slot: self._edit_focused(slot))
            # The text boxes keep their own shortcuts; the menu shows them and works by mouse.
            action.setShortcut(key)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        edit.addSeparator()
        preferences = edit.addAction("Settings…", QKeySequence.StandardKey.Preferences,
                                     lambda: self.show_page("settings"))
        preferences.setMenuRole(QAction.MenuRole.PreferencesRole)
        view = menus.addMenu("&View")
        jobs = self.jobs_dock.toggleViewAction()
        jobs.setText("&Jobs panel")
        jobs.setShortcut(QKeySequence("Ctrl+J"))
        view.addAction(jobs)
        view.addSeparator()
        search = view.addAction("&Find pictures…", QKeySequence.StandardKey.Find, self.focus_search)
        search.setToolTip("Go to the Search page's box")
        for number, spec in enumerate(PAGES, start=1):
            view.addAction(spec.title, QKeySequence(f"Ctrl+{number}"), lambda name=spec.name: self.show_page(name))
        help_menu = menus.addMenu("&Help")
        about = help_menu.addAction("&About Latent Studio", self.show_about)
        about.setMenuRole(QAction.MenuRole.AboutRole)

    def _edit_focused(self, slot: str) -> None:
        """An Edit menu command, for the text box or list that has the focus (if it can do it)."""
        method = getattr(QApplication.focusWidget(), slot, None)
        if callable(method):
            method()

    def focus_search(self) -> None:
        page = self.show_page("search")
        page.query.setFocus()
        page.query.selectAll()

    def about_text(self) -> str:
        from importlib import metadata

        versions = [f"latent-studio {__version__}"]
        for name in ("torch", "open-clip-torch", "diffusers", "transformers", "PySide6"):
            try:
                versions.append(f"{name} {metadata.version(name)}")
            except metadata.PackageNotFoundError:
                versions.append(f"{name} (not installed)")
        models = [f"{m.id} ({m.kind}): {m.extra.get('licence') or 'licence not recorded'}"
                  for m in self.ctx.registry.list()]
        return (
            "<b>Latent Studio</b> — search your photos by description, generate images and code, "
            "offline, on your own machine.<br><br>"
            + "<br>".join(versions)
            + f"<br><br><b>Data folder</b>: {self.ctx.paths.home}<br><br><b>Installed models</b>:<br>"
            + ("<br>".join(models) if models else "none yet")
            + f"<br><br><b>Icons</b>: {ICON_LICENCE}"
        )

    def show_about(self) -> None:
        QMessageBox.about(self, "About Latent Studio", self.about_text())

    # -- window state ----------------------------------------------------------------------

    def _fit_first_size(self) -> None:
        """1200×780, or less on a smaller screen (a 1366×768 laptop has ~730 px under its panels);
        a saved geometry replaces it."""
        width, height = DEFAULT_SIZE
        screen = self.screen() or QApplication.primaryScreen()
        if screen is not None:
            room = screen.availableGeometry()
            frame = 40  # the title bar and borders the window manager adds around the window
            width, height = min(width, room.width() - 16), min(height, room.height() - frame)
        self.resize(width, height)

    def _restore_geometry(self) -> None:
        geometry = self._state.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    def _restore_page_state(self, page: QWidget) -> None:
        for splitter in page.findChildren(QSplitter):
            saved = self._state.value(self._splitter_key(page, splitter))
            if saved is not None:
                splitter.restoreState(saved)
        for section in page.findChildren(SideSection):
            if self._state.value(f"sections/{section.objectName()}", "true") == "false":
                section.collapse()
        for toggle in self._panel_toggles(page):
            if self._state.value(f"panels/{toggle.objectName()}", "true") == "false":
                toggle.setChecked(False)

    def _save_state(self) -> None:
        self._state.setValue("geometry", self.saveGeometry())
        for page in self.pages.values():
            for splitter in page.findChildren(QSplitter):
                self._state.setValue(self._splitter_key(page, splitter), splitter.saveState())
            for section in page.findChildren(SideSection):
                self._state.setValue(f"sections/{section.objectName()}", "true" if section.isExpanded() else "false")
            for toggle in self._panel_toggles(page):
                self._state.setValue(f"panels/{toggle.objectName()}", "true" if toggle.isChecked() else "false")
        self._state.sync()

    @staticmethod
    def _panel_toggles(page: QWidget) -> list[QToolButton]:
        """A page's show/hide buttons for its side panels (named "toggle-…")."""
        return [b for b in page.findChildren(QToolButton) if b.isCheckable() and b.objectName().startswith("toggle-")]

    def _splitter_key(self, page: QWidget, splitter: QSplitter) -> str:
        name = next(n for n, p in self.pages.items() if p is page)
        index = page.findChildren(QSplitter).index(splitter)
        return f"splitters/{name}-{index}"

    # -- navigation ----------------------------------------------------------------------

    def show_page(self, name: str) -> QWidget:
        index = [spec.name for spec in PAGES].index(name)
        self.nav.set_current_index(index)
        return self.page(name)

    def page(self, name: str) -> QWidget:
        if name not in self.pages:
            spec = next(spec for spec in PAGES if spec.name == name)
            page = spec.factory(self.services)
            self.pages[name] = page
            self._slots[name].layout().addWidget(page)
            self._restore_page_state(page)
        return self.pages[name]

    def build_remaining_pages(self) -> None:
        """Build the next page not shown yet, and ask for the one after on the next turn."""
        missing = [spec.name for spec in PAGES if spec.name not in self.pages]
        if missing:
            self.page(missing[0])
            self._page_builder.start(0)

    def _navigate(self, row: int) -> None:
        if row < 0:
            return
        self.page(PAGES[row].name)
        self.stack.setCurrentIndex(row)

    # -- engine --------------------------------------------------------------------------

    def attach_engine(self) -> None:
        """Start the engine (its events already reach the bridge), warm the search model, detect
        the device (importing torch) off this thread, and start looking after the library
        (folders scanned, watched and polled; what is new indexed)."""
        self.bridge.start_engine()
        search = self.pages.get("search")
        if search is not None:
            search.warm_up()  # before device detection, which waits for it
        self.ctx.engine.detect_device_in_background()
        self.ctx.library_controller.start()

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
            self._page_builder.start(OTHER_PAGES_AFTER_MS)
        return super().eventFilter(watched, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._page_builder.stop()
        self._save_state()
        self.bridge.detach()
        super().closeEvent(event)
