"""Open a file with the system's viewer, or show it in the file manager."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices

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


def reveal(path: Path) -> None:
    """Show the file in the system's file manager (selected where the platform allows it)."""
    path = Path(path)
    if sys.platform == "win32":
        QProcess.startDetached("explorer.exe", [f"/select,{path}"])
    elif sys.platform == "darwin":
        QProcess.startDetached("open", ["-R", str(path)])
    else:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))
