"""Start-up of the packaged app against the same app run from the source environment, same run.

    python tests/benchmarks/packaged_startup.py EXECUTABLE [--runs 5]

EXECUTABLE is an installed build (e.g. the .deb's /usr/bin/latent-studio unpacked into a
scratch root). For each of the two, alternating, with a fresh empty data home and offscreen Qt:
`gui --quit-after-shown` (window-shown-ms: process start to first paint) and the wall time of
`doctor --json` (which imports torch to detect the device). Prints medians and ratios; the
packaged app unpacks nothing at start (one-folder build), so it should be close to the source run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(command: list[str], home: str) -> tuple[str, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "LATENT_STUDIO_HOME": home}
    start = time.perf_counter()
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return out, (time.perf_counter() - start) * 1000


def measure(command: list[str]) -> tuple[float, float]:
    """(window-shown-ms, doctor wall ms) with a fresh data home each."""
    with tempfile.TemporaryDirectory() as home:
        out, _ = run([*command, "gui", "--quit-after-shown"], home)
        shown = float(next(l for l in out.splitlines() if l.startswith("window-shown-ms:")).split(":")[1])
    with tempfile.TemporaryDirectory() as home:
        _, doctor_ms = run([*command, "doctor", "--json"], home)
    return shown, doctor_ms


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("executable", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    commands = {"packaged": [str(args.executable)], "source": [sys.executable, "-m", "latentstudio"]}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            results[name].append(measure(command))
    medians = {}
    for name, samples in results.items():
        shown = statistics.median(s for s, _ in samples)
        doctor = statistics.median(d for _, d in samples)
        medians[name] = (shown, doctor)
        print(f"{name:9} window-shown-ms median {shown:6.0f}   doctor --json wall median {doctor:6.0f} ms"
              f"   ({args.runs} runs)")
    (ps, pd), (ss, sd) = medians["packaged"], medians["source"]
    print(f"packaged / source: window shown {ps / ss:.2f}x, doctor {pd / sd:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
