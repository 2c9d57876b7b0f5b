"""Light and dark: follow the system's colour scheme, or the one chosen in Settings.

Qt follows the platform's scheme where the platform tells it (Windows, macOS, GNOME/KDE portals).
A chosen scheme is also set as a Fusion palette, so it holds where the platform has no say
(a bare X11 session, a remote desktop).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

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
            lambda _scheme: QTimer.singleShot(0, _signals.changed.emit))
    return _signals


def apply_theme(theme: str) -> None:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    QGuiApplication.styleHints().setColorScheme(SCHEMES.get(theme, Qt.ColorScheme.Unknown))
    if theme == "system":
        app.setPalette(app.style().standardPalette())
    else:
        app.setStyle("Fusion")
        app.setPalette(dark_palette() if theme == "dark" else app.style().standardPalette())
    theme_signals().changed.emit()
