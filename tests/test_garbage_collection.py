"""While the window runs, reference cycles are collected on the GUI thread only (a cycle holding a
widget, collected on the inference thread, deleted it there: a segmentation fault)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtWidgets import QApplication

from latentstudio.ui.garbage_collection import GuiThreadGarbageCollector

CYCLES = 3000  # several times the youngest generation's threshold


def test_cycles_made_on_a_worker_are_collected_on_the_gui_thread(qtbot) -> None:
    enabled_before = gc.isenabled()
    collector = GuiThreadGarbageCollector(QApplication.instance())
    freed_on: list[str] = []

    class Cycle:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            freed_on.append(threading.current_thread().name)

    try:
        assert not gc.isenabled()
        worker = threading.Thread(target=lambda: [Cycle() for _ in range(CYCLES)], name="inference")
        worker.start()
        worker.join()
        assert freed_on == []  # none on the worker
        qtbot.waitUntil(lambda: len(freed_on) == CYCLES, timeout=5000)
        assert set(freed_on) == {threading.current_thread().name}
    finally:
        collector.stop()
    assert gc.isenabled() == enabled_before
