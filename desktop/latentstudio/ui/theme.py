"""Light and dark: follow the system's colour scheme, or the one chosen in Settings.

Qt follows the platform's scheme where the platform tells it (Windows, macOS, GNOME/KDE portals).
A chosen scheme is also set as a Fusion palette, so it holds where the platform has no say
(a bare X11 session, a remote desktop).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QProxyStyle, QStyle, QStyleFactory, QStyleOption, QWidget

SCHEMES = {
    "system": Qt.ColorScheme.Unknown,  # Qt follows the platform's setting, and its changes
    "light": Qt.ColorScheme.Light,
    "dark": Qt.ColorScheme.Dark,
}
THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}

_DARK = {
    QPalette.ColorRole.Window: "#2b2b2e",
    QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#1f1f22",
    QPalette.ColorRole.AlternateBase: "#2b2b2e",
    QPalette.ColorRole.ToolTipBase: "#3a3a3e",
    QPalette.ColorRole.ToolTipText: "#f0f0f0",
    QPalette.ColorRole.PlaceholderText: "#8a8a8f",
    QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#3a3a3e",
    QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Highlight: "#3d7bd9",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6aa7ff",
    QPalette.ColorRole.Mid: "#5a5a60",
}


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in _DARK.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a80"))
    return palette


def is_dark(palette: Optional[QPalette] = None) -> bool:
    """Whether `palette` (the application's by default) is a dark one: light text on a dark window."""
    palette = palette or QApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def status_colour(ok: bool) -> str:
    """Green for good, red for a problem, in shades that read on the current theme's window."""
    if is_dark():
        return "#81c784" if ok else "#ef9a9a"
    return "#2e7d32" if ok else "#c62828"


class VisibleIndicatorStyle(QProxyStyle):
    """Fusion, with check boxes and radio buttons that show on a dark window: Fusion outlines them
    in the window colour darkened, which on a dark window is the colour of the box itself."""

    INDICATORS = (QStyle.PrimitiveElement.PE_IndicatorCheckBox, QStyle.PrimitiveElement.PE_IndicatorRadioButton)

    def drawPrimitive(self, element, option: QStyleOption, painter: QPainter,  # noqa: N802 (Qt override)
                      widget: Optional[QWidget] = None) -> None:
        if element in self.INDICATORS and is_dark(option.palette):
            option = type(option)(option)  # a copy: the caller's option stays as it was
            # Fusion's outline is window.darker(140): a window this light gives a mid-grey outline.
            option.palette.setColor(QPalette.ColorRole.Window, option.palette.color(QPalette.ColorRole.Mid).lighter(150))
        super().drawPrimitive(element, option, painter, widget)


class ThemeSignals(QObject):
    """`changed` after the window's colours change: a theme chosen in Settings, or the system's
    scheme switching. What draws in palette colours outside the palette (icons) redraws then:
    widgets with a style sheet get no PaletteChange event of their own."""

    changed = Signal()


_signals: Optional[ThemeSignals] = None


def theme_signals() -> ThemeSignals:
    global _signals
    if _signals is None:
        _signals = ThemeSignals(QApplication.instance())
        # After the platform has set its new palette (the signal comes first).
        QGuiApplication.styleHints().colorSchemeChanged.connect(
            lambda _scheme: QTimer.singleShot(0, _colours_changed))
    return _signals


def _colours_changed() -> None:
    """What Qt resolves once keeps the old theme's colours unless it is resolved again: style
    sheets (`palette(...)` is read when the sheet is applied) and rich-text labels (a link's colour
    is read when the text is set). Then everything that draws in its own colours hears `changed`."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    for widget in app.allWidgets():
        sheet = widget.styleSheet()
        if sheet:
            widget.setStyleSheet("")
            widget.setStyleSheet(sheet)
        if isinstance(widget, QLabel) and "<a " in widget.text():
            text = widget.text()
            widget.setText("")
            widget.setText(text)
    theme_signals().changed.emit()


def apply_theme(theme: str) -> None:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    QGuiApplication.styleHints().setColorScheme(SCHEMES.get(theme, Qt.ColorScheme.Unknown))
    if theme == "system":
        app.setPalette(app.style().standardPalette())
    else:
        app.setStyle(VisibleIndicatorStyle(QStyleFactory.create("Fusion")))
        app.setPalette(dark_palette() if theme == "dark" else app.style().standardPalette())
    _colours_changed()
