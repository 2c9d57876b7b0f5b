"""When this process started, for `window-shown-ms` (process start to first paint)."""

from __future__ import annotations

import os
import time

_IMPORTED_AT = time.time()


def process_start_time() -> float:
    """Wall-clock start of this process (Linux: from /proc; elsewhere: when this module loaded)."""
    try:
        with open(f"/proc/{os.getpid()}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5): starttime in clock ticks since boot
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
        return time.time() - uptime + start_ticks / ticks
    except (OSError, ValueError, IndexError, AttributeError):
        return _IMPORTED_AT


def ms_since_process_start() -> float:
    return (time.time() - process_start_time()) * 1000.0
