"""Uncaught errors are logged with their traceback and shown in the window in a short sentence.

The GUI script has no console on Windows, so without this an error in a slot would vanish.
Cancellation is not an error and is never shown. Qt's own warnings go to the log too.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType
from typing import Callable, Optional

from PySide6.QtCore import QObject, QtMsgType, Signal, qInstallMessageHandler

from ..engine import Cancelled

log = logging.getLogger("latentstudio.errors")

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def short_message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"Something went wrong: {text}. The details are in the log."


class ErrorReporter(QObject):
    """Installed once by the app; `show` is called in the GUI thread with the short message."""

    _report = Signal(str)

    def __init__(self, show: Callable[[str], None], parent: Optional[QObject] = None):
        super().__init__(parent)
        self._report.connect(show)
        self._previous = (sys.excepthook, threading.excepthook)

    def install(self) -> "ErrorReporter":
        sys.excepthook = self.handle
        threading.excepthook = lambda args: self.handle(args.exc_type, args.exc_value, args.exc_traceback)
        qInstallMessageHandler(self._qt_message)
        return self

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook = self._previous
        qInstallMessageHandler(None)

    def handle(self, kind: type[BaseException], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        if exc is None or isinstance(exc, Cancelled) or issubclass(kind, KeyboardInterrupt):
            return
        log.error("uncaught %s", kind.__name__, exc_info=(kind, exc, tb))
        self._report.emit(short_message(exc))  # queued to the GUI thread when raised elsewhere

    @staticmethod
    def _qt_message(kind: QtMsgType, context: object, message: str) -> None:
        logging.getLogger("qt").log(_QT_LEVELS.get(kind, logging.WARNING), "%s", message)
