"""Python's cycle collector, run on the GUI thread only.

Left automatic, it runs on whichever thread crosses its allocation threshold: often the inference
thread, in the middle of loading a model. A cycle it frees there may hold a Qt object (a widget,
a page, a timer), which is then deleted off the GUI thread: a segmentation fault (seen in the test
suite, "Garbage-collecting" on the inference thread under `load_pipeline`). So while the window
runs, automatic collection is off and a GUI-thread timer collects by the same thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_MS = 500


def collect_due(thresholds: tuple[int, int, int]) -> None:
    """Collect the oldest generation whose count, and every younger one's, passed its threshold
    (as Python's automatic collection would have, only here and now)."""
    counts = gc.get_count()
    generation = -1
    for candidate in range(3):
        if counts[candidate] <= thresholds[candidate]:
            break
        generation = candidate
    if generation >= 0:
        gc.collect(generation)


class GuiThreadGarbageCollector(QObject):
    """Turns automatic collection off until `stop`; collects each generation on this thread once
    its count passes Python's own threshold for it."""

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(CHECK_MS)

    def check(self) -> None:
        collect_due(self._thresholds)

    def stop(self) -> None:
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
