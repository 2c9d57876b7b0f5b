"""The window's memory with a 100,000-picture library: a whole GUI process (offscreen Qt) on a
library of 100k images with clustered ViT-B-32 vectors (search_latency.py's generator, the model
of cold_search.py linked, its text tower exported). The window opens, a query is typed 0.5 s after
the first paint, and once the answer is on screen the window sits idle; the process reports its
resident memory (VmRSS) when shown, when answered and after the idle time, and its peak (VmHWM).

Usage: python tests/benchmarks/window_idle_memory.py [--rounds 3] [--idle 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "desktop"))
    sys.path.insert(0, str(Path(__file__).resolve().parent))

PICTURES = 100_000
QUERY = "a red circle"
ANSWERS = tuple(f"{d}" for d in range(10)) + ("No pictures",)


def memory() -> dict[str, float]:
    """This process's resident and peak resident memory, MiB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def child(idle_s: float) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from latentstudio.app import run_gui
    from latentstudio.context import AppContext

    app = QApplication(sys.argv[:1])
    state: dict = {}

    def poll() -> None:
        window = next((w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow"), None)
        if window is None or not window._painted:
            return
        page = window.pages.get("search")
        if "shown" not in state:
            state["shown"] = memory()
            QTimer.singleShot(500, lambda: page.query.setText(QUERY))
        elif "answered" not in state and page.query.text() and page.summary.text().startswith(ANSWERS):
            state["answered"] = memory()
            state["summary"] = page.summary.text()
            QTimer.singleShot(int(idle_s * 1000), lambda: finish(window))

    def finish(window) -> None:
        state["idle"] = memory()
        state["heavy_modules"] = sorted(m for m in ("torch", "open_clip", "diffusers", "transformers",
                                                    "onnxruntime", "faiss", "sentence_transformers")
                                        if m in sys.modules)
        print(json.dumps(state), flush=True)
        window.close()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(20)
    return run_gui(AppContext())


def home_100k() -> Path:
    from cold_search import CACHE, MODEL, cli, model_folder
    from search_latency import Vectors, fill

    from latentstudio.library.photo_library import Library
    from latentstudio.paths import Paths

    home = CACHE / "home-100k"
    if (home / ".ready").is_file():
        return home
    shutil.rmtree(home, ignore_errors=True)
    cli(home, "models", "import", str(model_folder()), "--kind", "clip", "--id", MODEL, "--link")
    library = Library(Paths(home).ensure())
    fill(library, Vectors(PICTURES, "clustered"), PICTURES)
    library.close()
    cli(home, "search", QUERY, "--limit", "1")  # the text tower exported, as after a first search
    (home / ".ready").write_text("")
    return home


def one_run(home: Path, idle_s: float) -> dict:
    env = {**os.environ, "LATENT_STUDIO_HOME": str(home), "PYTHONPATH": str(REPO / "desktop"),
           "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed app has its bytecode cached
    proc = subprocess.Popen([sys.executable, __file__, "--child", "--idle", str(idle_s)], env=env,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    proc.wait(300)
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"the window run failed ({proc.returncode})")
    return json.loads(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.idle)
    if args.prepare:  # in a child: this process stays small
        print(json.dumps({"home": str(home_100k())}))
        return 0
    print(f"load before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    started = time.perf_counter()
    prepared = subprocess.run([sys.executable, __file__, "--prepare"], capture_output=True, text=True, check=True)
    home = Path(json.loads(prepared.stdout.strip().splitlines()[-1])["home"])
    print(f"library ready ({time.perf_counter() - started:.0f} s)")
    runs = [one_run(home, args.idle) for _ in range(args.rounds)]
    for moment in ("shown", "answered", "idle"):
        rss = [r[moment]["VmRSS"] for r in runs]
        print(f"{moment:>9}: RSS median {statistics.median(rss):.0f} MiB ({', '.join(f'{v:.0f}' for v in rss)})")
    peaks = [r["idle"]["VmHWM"] for r in runs]
    print(f"     peak: {statistics.median(peaks):.0f} MiB ({', '.join(f'{v:.0f}' for v in peaks)}); "
          f"last answer {runs[-1]['summary']!r}; imported: {', '.join(runs[-1]['heavy_modules'])}")
    print(f"load after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
