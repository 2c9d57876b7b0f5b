"""Light and dark: follow the system's colour scheme, or the one chosen in Settings."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

SCHEMES = {
    "system": Qt.ColorScheme.Unknown,  # Qt follows the platform's setting, and its changes
    "light": Qt.ColorScheme.Light,
    "dark": Qt.ColorScheme.Dark,
}
THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}


def apply_theme(theme: str) -> None:
    if QGuiApplication.instance() is not None:
        QGuiApplication.styleHints().setColorScheme(SCHEMES.get(theme, Qt.ColorScheme.Unknown))
