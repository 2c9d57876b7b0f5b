"""Background tasks report to the GUI thread, also when the widgets they report to are gone."""

from __future__ import annotations

import threading

import shiboken6
from PySide6.QtWidgets import QLabel

from latentstudio.ui import background


def test_a_task_that_ends_after_its_widget_was_closed_raises_nothing_in_the_event_loop(qtbot) -> None:
    label = QLabel()
    release = threading.Event()
    delivered = []

    def report(text: str) -> None:
        delivered.append(text)
        label.setText(text)  # the widget is deleted by then: Qt's wrapper raises RuntimeError

    background.run_in_background(lambda: release.wait(10) and "done", report)
    shiboken6.delete(label)
    release.set()
    qtbot.waitUntil(lambda: bool(delivered), timeout=10000)
    qtbot.waitUntil(lambda: not background._live, timeout=10000)
    assert delivered == ["done"]  # called, and its "already deleted" error did not reach the event loop
