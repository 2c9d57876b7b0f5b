"""Open a file with the system's viewer, or show it in the file manager."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage

from ..units import format_duration

log = logging.getLogger(__name__)

# Players that can be told where to start, with how they are told; where they install themselves
# off the PATH (Windows, macOS).
PLAYERS = (("vlc", "--start-time={:.2f}"), ("mpv", "--start={:.2f}"))
# Editors that can be told the line to open at, as each is told (`{path}`, `{line}`); the first
# one installed opens a source. Terminal editors ($EDITOR) need a terminal: not among them.
EDITORS = (
    ("code", ("--goto", "{path}:{line}")),  # Visual Studio Code
    ("codium", ("--goto", "{path}:{line}")),
    ("zed", ("{path}:{line}",)),
    ("subl", ("{path}:{line}",)),  # Sublime Text
    ("pycharm", ("--line", "{line}", "{path}")),
    ("idea", ("--line", "{line}", "{path}")),
    ("kate", ("--line", "{line}", "{path}")),
    ("gedit", ("+{line}", "{path}")),
    ("gvim", ("+{line}", "{path}")),
)
PLAYER_PLACES = {
    "vlc": (r"C:\Program Files\VideoLAN\VLC\vlc.exe", "/Applications/VLC.app/Contents/MacOS/VLC"),
    "mpv": ("/Applications/mpv.app/Contents/MacOS/mpv",),
}


def open_file(path: Path) -> str:
    """Open `path` in the system's default app; returns "" or what went wrong, in words."""
    path = Path(path)
    if not path.exists():
        return f"{path.name} is no longer there."
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
        log.warning("no application opened %s", path)
        return f"No application is set up to open {path.suffix or 'this kind of'} files; try Reveal in folder."
    return ""


def _player(program: str) -> Optional[str]:
    found = shutil.which(program)
    if found:
        return found
    return next((place for place in PLAYER_PLACES.get(program, ()) if os.path.isfile(place)), None)


def open_video_at(path: Path, seconds: float) -> str:
    """Play a video from `seconds` in a player that can be told where to start (VLC, mpv); without
    one, open it with the system's app. Returns "" or what the user should know, in words."""
    path = Path(path)
    if not path.exists():
        return f"{path.name} is no longer there."
    for program, start in PLAYERS:
        player = _player(program)
        if player and QProcess.startDetached(player, [start.format(seconds), str(path)])[0]:
            return ""
    problem = open_file(path)
    return problem or (f"Opened {path.name}: the moment found is at {format_duration(seconds)} "
                       "(with VLC or mpv installed, Open starts there).")


def open_at_line(path: Path, line: int) -> str:
    """Open a source file at `line` in an editor that can be told where to go (VS Code, Zed,
    Sublime Text, JetBrains IDEs, Kate, gedit, gvim); without one, open it with the system's app.
    Returns "" or what the user should know, in words."""
    path = Path(path)
    if not path.is_file():
        return f"{path.name} is no longer there; ask again to refresh the project."
    for program, arguments in EDITORS:
        editor = shutil.which(program)
        if editor and QProcess.startDetached(editor, [a.format(path=path, line=max(1, line)) for a in arguments])[0]:
            return ""
    problem = open_file(path)
    return problem or f"Opened {path.name}: the source starts at line {line} (VS Code and other editors open there)."


def copy_image(path: Path, shown: Optional[Path] = None) -> str:
    """Put the picture itself on the clipboard (`shown`, the picture a result shows, for files Qt
    cannot read: a video's moment, a RAW's preview); returns "" or what went wrong."""
    image = QImage(str(path))
    if image.isNull() and shown is not None:
        image = QImage(str(shown))
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
