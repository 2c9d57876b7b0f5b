"""Uncaught errors reach the log with their traceback and the window in words; a cancel does not."""

from __future__ import annotations

import logging
import sys
import threading

import pytest

from latentstudio.context import AppContext
from latentstudio.engine import Cancelled
from latentstudio.ui.error_reporting import ErrorReporter
from latentstudio.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, ctx: AppContext):
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    reporter = ErrorReporter(win.show_error, win).install()
    yield win
    reporter.uninstall()


def _raise(exc: BaseException):
    try:
        raise exc
    except BaseException as caught:
        return type(caught), caught, caught.__traceback__


def test_an_uncaught_error_is_logged_and_shown(qtbot, window: MainWindow, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="latentstudio.errors"):
        sys.excepthook(*_raise(PermissionError("settings.json is read-only")))
    assert "settings.json is read-only" in window.statusBar().currentMessage()
    assert "details are in the log" in window.statusBar().currentMessage()
    [record] = [r for r in caplog.records if r.name == "latentstudio.errors"]
    assert record.exc_info and record.exc_info[0] is PermissionError


def test_an_error_on_a_worker_thread_is_shown_in_the_gui_thread(qtbot, window: MainWindow) -> None:
    def work() -> None:
        raise ValueError("bad pixels")

    thread = threading.Thread(target=work, name="latent-test-worker")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: "bad pixels" in window.statusBar().currentMessage(), timeout=5000)


def test_a_cancel_is_never_shown_as_an_error(qtbot, window: MainWindow, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="latentstudio.errors"):
        sys.excepthook(*_raise(Cancelled("stopped by the user")))
    assert window.statusBar().currentMessage() == ""
    assert not [r for r in caplog.records if r.name == "latentstudio.errors"]
