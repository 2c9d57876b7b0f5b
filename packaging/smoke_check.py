"""Smoke-check an installed Latent Studio executable on any platform (standard library only).

    python3 packaging/smoke_check.py EXECUTABLE [--version V] [--no-network] [--tiny-models DIR]

With a fresh, empty data home and Qt's offscreen platform it runs `EXECUTABLE doctor --json`
(the app's version, the main libraries, the data home, no models on a first start) and
`EXECUTABLE gui --quit-after-shown` (the window paints; prints window-shown-ms).

`--tiny-models DIR` (the test suite's model cache) then runs one real job per domain in a second
data home: import the tiny CLIP, diffusion and language models, index three PNGs and a HEIC photo
and search them (the text query answered by the ONNX text tower, without torch), describe a
picture from the bundled phrase banks, generate an image, generate code and explain it (a code
task from the bundled templates). Missing libraries or data files in a bundle show up here, not
at a user's first search. `--no-network` runs everything under
`unshare -n` (Linux, where permitted). Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

LIBRARIES = ("torch", "open-clip-torch", "diffusers", "transformers", "PySide6", "onnxruntime")
SAMPLES = Path(__file__).resolve().parent / "smoke_samples"  # a HEIC photo (pillow-heif in the bundle)
ONNX_ANSWERED = "the ONNX text tower"  # logged when a text query is answered without torch
TINY_MODELS = {  # kind -> (path inside the test model cache, id)
    "clip": ("clip-tiny/clip-tiny", "tiny-clip"),
    "diffusion": ("diffusion-tiny/diffusion-tiny/diffusers", "tiny-sd"),
    "llm": ("llm-tiny/llm-tiny", "tiny-llm"),
}


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
    cluster = report.get("cluster", {})
    if cluster.get("installed") or "latent-studio[cluster]" not in cluster.get("hint", ""):
        problems.append(f"the installers leave the cluster extra out and say how to add it: {cluster}")
    return problems


def write_png(path: Path, rgb: tuple[int, int, int], size: int = 64) -> None:
    """A solid-colour PNG without Pillow (the checker needs only the standard library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def model_problems(command: list[str], env: dict[str, str], cache: Path, scratch: Path,
                   timeout: float) -> list[str]:
    """One real job per domain with the tiny test models, in its own data home."""
    env = dict(env, LATENT_STUDIO_HOME=str(scratch / "with-models"))
    problems = []

    def step(what: str, *args: str) -> subprocess.CompletedProcess | None:
        result, ms = run([*command, *args], env, timeout)
        if result.returncode != 0:
            problems.append(f"{what} exited with {result.returncode}: {(result.stdout + result.stderr)[-1500:]}")
            return None
        print(f"smoke: {what}: ok ({ms:.0f} ms wall)")
        return result

    for kind, (relative, model_id) in TINY_MODELS.items():
        if step(f"import the tiny {kind} model", "models", "import", str(cache / relative),
                "--kind", kind, "--id", model_id) is None:
            return problems
    pictures = scratch / "pictures"
    pictures.mkdir()
    for name, rgb in (("red", (220, 30, 30)), ("green", (30, 200, 60)), ("blue", (30, 60, 220))):
        write_png(pictures / f"{name}.png", rgb)
    shutil.copy2(SAMPLES / "purple.heic", pictures)
    step("index three PNGs and a HEIC photo", "index", str(pictures))
    log_file = Path(env["LATENT_STUDIO_HOME"]) / "logs" / "latent-studio.log"
    logged_before = log_file.read_text(errors="replace") if log_file.is_file() else ""
    found = step("search them", "search", "a red square", "--min-score", "-1", "--json")
    if found is not None and len(json.loads(found.stdout)) != 4:
        problems.append(f"search found {len(json.loads(found.stdout))} of 4 indexed pictures")
    logged = log_file.read_text(errors="replace")[len(logged_before):] if log_file.is_file() else ""
    if found is not None and ONNX_ANSWERED not in logged:
        problems.append(f"the text query was not answered by the ONNX text tower; the log said: {logged[-1500:]}")
    elif found is not None:
        print("smoke: the text query was answered by the ONNX text tower")
    described = step("describe a picture", "describe", str(pictures / "red.png"), "--json")
    if described is not None and not json.loads(described.stdout)[0].get("prompt"):
        problems.append(f"describe gave no prompt: {described.stdout[-500:]}")
    made = step("generate an image", "generate-image", "a red square", "--steps", "2", "--seed", "1", "--json")
    if made is not None:
        paths = [Path(p) for p in json.loads(made.stdout).get("paths", [])]
        if not paths or not all(p.is_file() for p in paths):
            problems.append(f"generate-image reported no image file: {made.stdout[-500:]}")
    step("generate code", "generate-code", "add two numbers", "--max-tokens", "8", "--seed", "1", "--json")
    source = scratch / "add.py"
    source.write_text("def add(a, b):\n    return a + b\n")
    step("explain code (a task template)", "generate-code", "--task", "explain", "--context", str(source),
         "--max-tokens", "8", "--seed", "1", "--json")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("executable", type=Path)
    parser.add_argument("--version", help="the version the package claims")
    parser.add_argument("--no-network", action="store_true", help="run under `unshare -n` (Linux)")
    parser.add_argument("--tiny-models", type=Path, metavar="DIR",
                        help="the test model cache (tests/.model-cache): also run one job per domain")
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
        if args.tiny_models is not None:
            problems += model_problems([*prefix, exe], env, args.tiny_models, scratch, args.timeout)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    for problem in problems:
        print(f"smoke: FAIL: {problem}", file=sys.stderr)
    print("smoke: checks passed" if not problems else "smoke: checks failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
