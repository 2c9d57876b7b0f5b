"""Open a file with the system's viewer, or show it in the file manager."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage

log = logging.getLogger(__name__)


def open_file(path: Path) -> str:
    """Open `path` in the system's default app; returns "" or what went wrong, in words."""
    path = Path(path)
    if not path.exists():
        return f"{path.name} is no longer there."
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
        log.warning("no application opened %s", path)
        return f"No application is set up to open {path.suffix or 'this kind of'} files; try Reveal in folder."
    return ""


def copy_image(path: Path) -> str:
    """Put the picture itself on the clipboard; returns "" or what went wrong."""
    image = QImage(str(path))
    if image.isNull():
        return f"{Path(path).name} could not be read as an image."
    QGuiApplication.clipboard().setImage(image)
    return ""


def copy_path(path: Path) -> None:
    QGuiApplication.clipboard().setText(str(path))


def reveal(path: Path) -> str:
    """Show the file in the system's file manager (selected where the platform allows it);
    returns "" or what went wrong, in words (as `open_file` does)."""
    path = Path(path)
    if not path.exists():
        return f"{path.name} is no longer there."
    if sys.platform == "win32":
        started = QProcess.startDetached("explorer.exe", [f"/select,{path}"])[0]
    elif sys.platform == "darwin":
        started = QProcess.startDetached("open", ["-R", str(path)])[0]
    else:
        started = QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))
    if not started:
        log.warning("no file manager showed %s", path)
        return f"No file manager is set up to show folders; {path.name} is in {path.parent}."
    return ""
