"""The system libraries Qt's X11 window needs on Linux, and which of them are missing.

Qt names only the first missing one (xcb-cursor0) when its platform plugin fails to load; the
doctor checks them all, so one install command fixes the lot.
"""

from __future__ import annotations

import ctypes
import sys

# soname → Debian/Ubuntu package. Fedora and Arch call them xcb-util-* and libxkbcommon-x11.
QT_XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
}


def missing_qt_libraries() -> list[str]:
    """Debian package names of the libraries that cannot be loaded ([] off Linux)."""
    if not sys.platform.startswith("linux"):
        return []
    missing = []
    for soname, package in QT_XCB_LIBRARIES.items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(package)
    return missing
