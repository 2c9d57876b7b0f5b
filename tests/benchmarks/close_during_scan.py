"""Closing the app while the library controller scans a large folder of new files.

    python tests/benchmarks/close_during_scan.py [--files 30000] [--runs 3]

For each run, in a fresh data home: N new files (small, distinct JPEG-named files: the scan walks
and hashes them; nothing is decoded), then
- idle: the controller started on an empty library, its scan done, then `ctx.close()`;
- during the scan: the controller started with the N files waiting, `ctx.close()` once the scan
  has walked past 1,000 of them, and (another home) once it reads them (hashes and words, in
  chunks);
- the whole scan, as quitting used to wait for it: `library.scan()` of the N files to the end.
Prints each figure (ms) with the machine's load; the target is close-during-scan minus idle
close under one second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))

from latentstudio.context import AppContext  # noqa: E402
from latentstudio.engine import DeviceInfo, EventKind  # noqa: E402
from latentstudio.paths import Paths  # noqa: E402


def write_files(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for k in range(count):
        (folder / f"IMG_{k:06d}.jpg").write_bytes(b"\xff\xd8\xff\xe0" + k.to_bytes(8, "big") * 64)


def context(home: Path) -> AppContext:
    return AppContext(Paths(home), device=DeviceInfo.cpu("benchmark"))


def idle_close(root: Path) -> float:
    ctx = context(root / "idle-home")
    controller = ctx.library_controller
    controller.start()
    while controller.busy:
        time.sleep(0.01)
    start = time.perf_counter()
    ctx.close()
    return (time.perf_counter() - start) * 1000


def close_during_scan(root: Path, photos: Path, reading: bool) -> tuple[float, str]:
    """Close while the scan walks the folder (after 1,000 files), or while it reads the new files
    (hashes, embedded words: its slowest part, after its first chunk)."""
    ctx = context(root / ("read-home" if reading else "walk-home"))
    ctx.library.add_folder(photos)
    seen = []
    ctx.hub.add_listener(lambda e: e.handle is not None and e.handle.kind == "scan"
                         and e.kind is EventKind.PROGRESS and seen.append(e.payload))
    ctx.library_controller.start()
    while not seen or (seen[-1].total is None if reading else seen[-1].done < 1000):
        time.sleep(0.005)
    start = time.perf_counter()
    ctx.close()
    return (time.perf_counter() - start) * 1000, seen[-1].message


def whole_scan(root: Path, photos: Path) -> float:
    ctx = context(root / "full-home")
    try:
        ctx.library.add_folder(photos)
        start = time.perf_counter()
        ctx.library.scan()
        return (time.perf_counter() - start) * 1000
    finally:
        ctx.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.files:,} new files; load {os.getloadavg()[0]:.2f}")
    idle, walking, reading, full = [], [], [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="latent-close-") as scratch:
            root = Path(scratch)
            photos = root / "photos"
            write_files(photos, args.files)
            idle.append(idle_close(root))
            ms, walked = close_during_scan(root, photos, reading=False)
            walking.append(ms)
            ms, read = close_during_scan(root, photos, reading=True)
            reading.append(ms)
            full.append(whole_scan(root, photos))
            print(f"run {run + 1}: idle close {idle[-1]:.0f} ms · close while it walks {walking[-1]:.0f} ms "
                  f"({walked}) · close while it reads {reading[-1]:.0f} ms ({read}) · whole scan {full[-1]:.0f} ms")
    median = statistics.median
    print(f"median: idle close {median(idle):.0f} ms · close while the scan walks {median(walking):.0f} ms · "
          f"while it reads the new files {median(reading):.0f} ms · whole scan {median(full):.0f} ms; "
          f"load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
