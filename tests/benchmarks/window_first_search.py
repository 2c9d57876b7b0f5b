"""The window's first search and its exit: whole GUI processes (offscreen Qt) on cold_search.py's
small library (76 pictures, real-size ViT-B-32 with random weights).

Each process opens the window; 0.5 s after the first paint (`--type-after`; 0: as it shows) a
query is typed into the search box (the search runs after the box's usual debounce). Measured: process start → window shown, and
→ the first answer on screen; then the window is closed, and window close → process exit is
measured from outside. Both text towers, alternating (`LATENT_STUDIO_TEXT_TOWER=torch` for torch).

Usage: python tests/benchmarks/window_first_search.py [--rounds 3] [--type-after 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
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

QUERY = "a red circle"
TYPE_AFTER_S = 0.5  # the default; 0: typed as the window shows, as soon as a person could
# The search box's summary once an answer is on screen (random weights score below the cut-off).
ANSWERS = tuple(f"{d}" for d in range(10)) + ("No pictures",)


def child(close_while_indexing: bool, type_after_s: float) -> int:
    """Run the real app (`run_gui`) and drive it from a timer, as a person would; with
    `close_while_indexing`, close the window once indexing has committed its first batch."""
    from latentstudio.process_start import ms_since_process_start

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from latentstudio.app import run_gui
    from latentstudio.context import AppContext
    from latentstudio.ui import main_window

    _app = QApplication(sys.argv[:1])  # before the timer below; run_gui uses this one
    state: dict[str, float] = {}
    windows = []

    def first_paint(window) -> None:  # as the window's own signal says it, not at the next poll
        state["shown_ms"] = ms_since_process_start()
        windows.append(window)
        if not close_while_indexing:
            QTimer.singleShot(int(type_after_s * 1000), lambda: window.pages["search"].query.setText(QUERY))

    build = main_window.MainWindow.__init__

    def init(window, *args, **kwargs) -> None:
        build(window, *args, **kwargs)
        window.firstPainted.connect(lambda: first_paint(window))

    main_window.MainWindow.__init__ = init

    def poll() -> None:
        if not windows:
            return
        window = windows[0]
        page = window.pages["search"]
        if close_while_indexing:
            handle = page.controller.index.handle  # the library's owner runs the index job
            progress = handle.progress if handle is not None else None
            done, total = (progress.done, progress.total or 0) if progress is not None else (0, 0)
            if "closed_at" not in state and 0 < done < total:
                state["indexed_at_close"] = done
                close(window)
        elif "answered_ms" not in state and page.query.text() and page.summary.text().startswith(ANSWERS):
            state["answered_ms"] = ms_since_process_start()
            state["summary"] = page.summary.text()
            close(window)

    def close(window) -> None:
        state["closed_at"] = time.time()
        print(json.dumps(state), flush=True)
        window.close()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(5)
    return run_gui(AppContext())


def one_run(home: Path, tower: str, close_while_indexing: bool = False, type_after_s: float = TYPE_AFTER_S) -> dict:
    env = {**os.environ, "LATENT_STUDIO_HOME": str(home), "PYTHONPATH": str(REPO / "desktop"),
           "QT_QPA_PLATFORM": "offscreen"}
    env.pop("LATENT_STUDIO_TEXT_TOWER", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed app has its bytecode cached
    if tower == "torch":
        env["LATENT_STUDIO_TEXT_TOWER"] = "torch"
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(int(close_while_indexing)),
                             "--type-after", str(type_after_s)], env=env,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    proc.wait(120)
    exited = time.time()
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"the window run failed ({proc.returncode})")
    result = json.loads(line)
    result["exit_s"] = exited - result["closed_at"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--type-after", type=float, default=TYPE_AFTER_S,
                        help="seconds after the first paint the query is typed (0: at once)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(bool(args.child), args.type_after)
    load = os.getloadavg()
    print(f"load before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; query typed {args.type_after:.2f} s after the first paint")
    prepared = subprocess.run([sys.executable, str(Path(__file__).with_name("cold_search.py")), "--prepare",
                               "--skip-1m"], capture_output=True, text=True, check=True).stdout
    home = Path(json.loads(prepared.strip().splitlines()[-1])["small"])
    one_run(home, "onnxruntime")  # warm the OS file cache for both sides alike
    one_run(home, "torch")
    runs: dict[str, list[dict]] = {"onnxruntime": [], "torch": []}
    for _ in range(args.rounds):
        for tower in runs:
            runs[tower].append(one_run(home, tower, type_after_s=args.type_after))
    for tower, results in runs.items():
        def figures(key: str, scale: float = 1.0) -> str:
            values = [r[key] * scale for r in results]
            return f"median {statistics.median(values):.2f} s ({', '.join(f'{v:.2f}' for v in values)})"

        print(f"{tower} text tower: window shown {figures('shown_ms', 1e-3)}; first answer {figures('answered_ms', 1e-3)}; "
              f"close → exit {figures('exit_s')}; last summary {results[-1]['summary']!r}")
    indexing = indexing_home(home)
    for _ in range(args.rounds):
        with sqlite3.connect(indexing / "library.sqlite3") as db:
            db.execute("DELETE FROM vectors")
        result = one_run(indexing, "onnxruntime", close_while_indexing=True)
        with sqlite3.connect(indexing / "library.sqlite3") as db:
            kept = db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        print(f"closed while indexing ({result['indexed_at_close']} of 76 done): close → exit "
              f"{result['exit_s']:.2f} s; vectors kept: {kept}")
    load = os.getloadavg()
    print(f"load after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


def indexing_home(small: Path) -> Path:
    """The small library's pictures in a library that has indexed none of them: the window
    indexes them when it starts."""
    from latentstudio.library.store import LibraryStore
    from latentstudio.library.scan import scan_folders

    home = small.with_name("home-indexing")
    if not (home / ".ready").is_file():
        from cold_search import MODEL, cli, model_folder

        cli(home, "models", "import", str(model_folder()), "--kind", "clip", "--id", MODEL, "--link")
        store = LibraryStore(home / "library.sqlite3")
        folder = store.add_folder(small / "pictures", "user")
        scan_folders(store, [folder])
        store.close()
        (home / ".ready").write_text("")
    return home


if __name__ == "__main__":
    sys.exit(main())
