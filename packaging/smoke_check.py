"""Smoke-check an installed Latent Studio executable on any platform (standard library only).

    python3 packaging/smoke_check.py EXECUTABLE [--version V] [--no-network]

With a fresh, empty data home and Qt's offscreen platform it runs `EXECUTABLE doctor --json`
(the app's version, the main libraries, the data home, no models on a first start) and
`EXECUTABLE gui --quit-after-shown` (the window paints; prints window-shown-ms). `--no-network`
runs both under `unshare -n` (Linux, where permitted), so a first start that needed the network
fails here. Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIBRARIES = ("torch", "open-clip-torch", "diffusers", "transformers", "PySide6")


def run(command: list[str], env: dict[str, str], timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return result, (time.perf_counter() - start) * 1000


def doctor_problems(report: dict, version: str | None, home: Path) -> list[str]:
    problems = []
    found = report.get("versions", {}).get("latent-studio")
    if not found:
        problems.append("doctor reports no latent-studio version (distribution metadata missing)")
    elif version and found != version:
        problems.append(f"version {found!r}, expected {version!r}")
    for name in LIBRARIES:
        if not report.get("versions", {}).get(name):
            problems.append(f"doctor reports no version for {name}")
    if Path(report.get("data_home", "")).resolve() != home.resolve():
        problems.append(f"data home {report.get('data_home')!r}, expected {str(home)!r}")
    if report.get("models"):
        problems.append(f"a first start lists installed models: {report['models']}")
    if not report.get("device", {}).get("kind"):
        problems.append("doctor reports no device")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("executable", type=Path)
    parser.add_argument("--version", help="the version the package claims")
    parser.add_argument("--no-network", action="store_true", help="run under `unshare -n` (Linux)")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)

    prefix: list[str] = []
    if args.no_network:
        if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], check=False).returncode == 0:
            prefix = ["unshare", "-n"]
            print("smoke: without network (unshare -n)")
        else:
            print("smoke: cannot drop the network here (unshare -n not permitted); running with it")

    scratch = Path(tempfile.mkdtemp(prefix="latent-studio-smoke-"))
    home = scratch / "data"
    env = dict(os.environ, LATENT_STUDIO_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    env.pop("LATENT_STUDIO_RESOURCES", None)
    exe = str(args.executable)
    problems: list[str] = []
    try:
        result, doctor_ms = run([*prefix, exe, "doctor", "--json"], env, args.timeout)
        if result.returncode != 0:
            problems.append(f"doctor exited with {result.returncode}: {result.stderr[-2000:]}")
        else:
            report = json.loads(result.stdout)
            problems += doctor_problems(report, args.version, home)
            versions = report["versions"]
            print(f"smoke: doctor: latent-studio {versions.get('latent-studio')}, torch {versions.get('torch')}, "
                  f"device {report['device'].get('kind')}, {len(report['models'])} models "
                  f"({doctor_ms:.0f} ms wall)")

        result, gui_ms = run([*prefix, exe, "gui", "--quit-after-shown"], env, args.timeout)
        shown = re.search(r"^window-shown-ms: (\d+)$", result.stdout, re.M)
        if result.returncode != 0 or not shown:
            problems.append(f"gui exited with {result.returncode}, output: {(result.stdout + result.stderr)[-2000:]}")
        else:
            print(f"smoke: window-shown-ms: {shown.group(1)} (offscreen; {gui_ms:.0f} ms wall to exit)")
        if not (home / "logs" / "latent-studio.log").is_file():
            problems.append("no log file in the data home")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    for problem in problems:
        print(f"smoke: FAIL: {problem}", file=sys.stderr)
    print("smoke: checks passed" if not problems else "smoke: checks failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
