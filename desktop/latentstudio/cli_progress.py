"""Progress bars for headless commands: tqdm on stderr, one bar per job, from job events."""

from __future__ import annotations

import sys
import threading
from typing import Any, Hashable, Optional

from .engine import EventKind, JobEvent


class ProgressBars:
    """`bars(event)` follows a job's PROGRESS events; `bars.update(...)` drives a bar directly.

    Disabled (e.g. with --json, or when stderr is not a terminal) it draws nothing. Thread-safe:
    events arrive on the engine or download thread.
    """

    def __init__(self, enabled: bool = True, unit: str = "it", unit_scale: bool = False):
        self.enabled = enabled
        self.unit = unit
        self.unit_scale = unit_scale
        self._bars: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, event: JobEvent) -> None:
        if event.handle is None:
            return
        if event.kind is EventKind.PROGRESS and event.payload.total:
            progress = event.payload
            self.update(event.handle.id, progress.done, progress.total, event.handle.name, progress.message)
        elif event.kind.final:
            self.close(event.handle.id)

    def update(self, key: Hashable, done: float, total: float, description: str, note: str = "") -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        with self._lock:
            bar = self._bars.get(key)
            if bar is None:
                bar = self._bars[key] = tqdm(
                    total=total, initial=done, desc=description, unit=self.unit, unit_scale=self.unit_scale,
                    unit_divisor=1000, file=sys.stderr, dynamic_ncols=True,
                )
            bar.total = total
            bar.set_description(description, refresh=False)
            if note:
                bar.set_postfix_str(note, refresh=False)
            bar.update(done - bar.n)

    def close(self, key: Optional[Hashable] = None) -> None:
        """Close one bar, or all of them."""
        with self._lock:
            keys = list(self._bars) if key is None else [key]
            for k in keys:
                bar = self._bars.pop(k, None)
                if bar is not None:
                    bar.close()
