"""Project indexing at scale: a 100,000-file project indexed with progress, killed mid-way (SIGKILL,
once while reading files and once while embedding) and run again, cancelled in-process (how soon
it stops), and a 10,000-file project refreshed after one file is edited.

Embedding uses the tiny text-embedding model of tests/support (a real sentence-transformers folder,
random weights, 32 dimensions): the real all-MiniLM-L6-v2 embeds about 86 such chunks a second on
the 2-core build machine (docs/benchmarks.md), so 100,000 chunks would take 20 minutes of model time
alone. Everything else (walk, .gitignore, read, chunk, SQLite, FTS5, the embedding loop's queries)
is the real code at full size.

Generated projects are kept in ~/.cache/latent-studio/bench/project-<files>/ (made once); indexes are
written to a temporary folder and removed.

Usage: python tests/benchmarks/project_scale.py [--files 100000] [--small 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "desktop"))
sys.path.insert(0, str(ROOT))

CACHE = Path.home() / ".cache" / "latent-studio" / "bench"
MODEL_ID = "tiny-te"


def make_project(files: int) -> Path:
    """`files` indexable Python modules (one function each) in packages of 100, every tenth package
    with a .gitignore; beside them what must be left out: node_modules, build output, logs, a binary."""
    root = CACHE / f"project-{files}"
    if (root / ".ready").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    for k in range(files):
        package = root / "src" / f"pkg{k // 1000:03d}" / f"sub{k // 100 % 10}"
        if k % 100 == 0:
            package.mkdir(parents=True, exist_ok=True)
            if k // 100 % 10 == 0:
                (package / ".gitignore").write_text("*.log\ngenerated/\n")
                (package / "run.log").write_text("log line\n" * 10)
                (package / "generated").mkdir(exist_ok=True)
                (package / "generated" / "table.py").write_text("TABLE = [1, 2, 3]\n")
        (package / f"mod{k:06d}.py").write_text(
            f"def handler_{k}(request, limit={k % 50}):\n    items = request.items[:limit]\n"
            f"    return [item.name for item in items if item.id % {k % 7 + 2} == 0]\n")
    for k in range(files // 1000):
        modules = root / "web" / "node_modules" / f"dep{k}"
        modules.mkdir(parents=True, exist_ok=True)
        (modules / "index.js").write_text("module.exports = 1;\n")
    (root / "build").mkdir(exist_ok=True)
    (root / "build" / "out.py").write_text("x = 1\n")
    (root / "logo.bin").write_bytes(bytes(range(256)) * 8)
    (root / ".ready").write_text("")
    return root


def peak_rss_mib() -> float:
    """This process's own peak resident memory (VmHWM; getrusage's maxrss keeps the forked parent's
    high-water mark across exec, so a child of a torch-importing parent would read ~600 MiB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(root: Path, db: Path, model: Path) -> int:
    """Index `root` into `db`, printing progress lines and, at the end, a JSON report."""
    from latentstudio.engine import DeviceInfo
    from latentstudio.projects.embedder import load_text_embedder
    from latentstudio.projects.index import embed_pending, refresh
    from latentstudio.projects.store import ProjectStore

    def progress(done: int, total, message: str) -> None:
        print(f"progress {json.dumps([done, total, message])}", flush=True)

    start = time.perf_counter()
    store = ProjectStore(db)
    report = refresh(store, root, progress)
    read_s = time.perf_counter() - start
    read_rss = peak_rss_mib()  # before torch is imported
    embedder = load_text_embedder(model, DeviceInfo.cpu("benchmark"), MODEL_ID)
    begin = time.perf_counter()
    embedded = embed_pending(store, embedder.encode, MODEL_ID, progress, batch=256)
    print("report " + json.dumps({
        "read_s": read_s, "embed_s": time.perf_counter() - begin, "added": report.added,
        "changed": report.changed, "unchanged": report.unchanged, "skipped": dict(report.skipped),
        "embedded": embedded, "read_rss_mib": read_rss, "peak_rss_mib": peak_rss_mib(),
    }), flush=True)
    store.close()
    return 0


def run_child(root: Path, db: Path, model: Path, kill_when=None) -> dict:
    """One indexing process; `kill_when(message, done, total)` true → SIGKILL it there."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(root), str(db), str(model)],
                            stdout=subprocess.PIPE, text=True)
    result: dict = {"progress_lines": 0}
    first_progress = None
    for line in proc.stdout:
        if line.startswith("progress "):
            done, total, message = json.loads(line[9:])
            result["progress_lines"] += 1
            first_progress = first_progress or time.perf_counter() - start
            result["last"] = message
            if kill_when is not None and kill_when(message, done, total):
                os.kill(proc.pid, signal.SIGKILL)
                break
        elif line.startswith("report "):
            result.update(json.loads(line[7:]))
    proc.wait()
    result["killed"] = proc.returncode == -signal.SIGKILL
    result["seconds"] = time.perf_counter() - start
    result["first_progress_s"] = first_progress
    return result


def cancel_latency(root: Path, db: Path, after_s: float) -> tuple[float, str]:
    """Seconds from a cancel request `after_s` into a refresh to the refresh's end."""
    from latentstudio.engine import Cancelled
    from latentstudio.projects.index import refresh
    from latentstudio.projects.store import ProjectStore

    store = ProjectStore(db)
    start = time.perf_counter()
    where = [""]

    def progress(done: int, total, message: str) -> None:
        where[0] = message

    def checkpoint() -> None:
        if time.perf_counter() - start >= after_s:
            raise Cancelled()

    try:
        refresh(store, root, progress, checkpoint)
    except Cancelled:
        pass
    store.close()
    return time.perf_counter() - start - after_s, where[0]


def small_refresh(files: int, model: Path, work: Path) -> None:
    from latentstudio.engine import DeviceInfo
    from latentstudio.projects.embedder import load_text_embedder
    from latentstudio.projects.index import embed_pending, refresh
    from latentstudio.projects.store import ProjectStore

    root = make_project(files)
    edited = work / "edited"
    shutil.copytree(root, edited)
    store = ProjectStore(work / "small.sqlite3")
    embedder = load_text_embedder(model, DeviceInfo.cpu("benchmark"), MODEL_ID)
    start = time.perf_counter()
    refresh(store, edited)
    embed_pending(store, embedder.encode, MODEL_ID, batch=256)
    first = time.perf_counter() - start
    start = time.perf_counter()
    same = refresh(store, edited)
    nothing = time.perf_counter() - start
    target = edited / "src" / "pkg005" / "sub0" / "mod005000.py"
    target.write_text(target.read_text() + "\n\ndef added(x):\n    return x * 2\n")
    start = time.perf_counter()
    report = refresh(store, edited)
    n = embed_pending(store, embedder.encode, MODEL_ID)
    one = time.perf_counter() - start
    print(f"- {files} files: first index {first:.1f} s; refresh with nothing changed {nothing:.2f} s "
          f"({same.unchanged} unchanged); after editing one file: refresh + re-embed {one:.2f} s "
          f"({report.changed} changed, {n} chunks embedded)")
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--child", nargs=3, metavar=("ROOT", "DB", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*(Path(p) for p in args.child))
    from tests.support.model_store import tiny_model

    model = tiny_model("text-embedding-tiny")
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} CPUs")
    start = time.perf_counter()
    root = make_project(args.files)
    print(f"- project of {args.files} modules ready in {time.perf_counter() - start:.1f} s ({root})")
    work = Path(tempfile.mkdtemp(prefix="project-scale-"))
    try:
        db = work / "big.sqlite3"
        runs = [
            ("killed while reading files", lambda m, d, t: m.startswith("Reading") and t and d >= t * 0.4),
            ("killed while embedding", lambda m, d, t: m.startswith("Embedding") and t and d >= t * 0.5),
            ("run to the end", None),
        ]
        for label, kill in runs:
            r = run_child(root, db, model, kill)
            print(f"- {label}: {r['seconds']:.1f} s, first progress after {r['first_progress_s'] or 0:.1f} s, "
                  f"{r['progress_lines']} progress lines, last “{r.get('last')}”"
                  + ("" if r["killed"] else
                     f"; read {r['added'] + r['changed']} files, {r['unchanged']} unchanged "
                     f"(walk+read+store {r['read_s']:.1f} s), embedded {r['embedded']} chunks in "
                     f"{r['embed_s']:.1f} s, skipped {r['skipped']}, peak RSS {r['read_rss_mib']:.0f} MiB "
                     f"before the model loads, {r['peak_rss_mib']:.0f} MiB in all"))
        again = run_child(root, db, model)
        print(f"- again with nothing changed: {again['seconds']:.1f} s (walk+stat {again['read_s']:.1f} s, "
              f"{again['unchanged']} unchanged, {again['embedded']} embedded), peak RSS {again['read_rss_mib']:.0f} MiB "
              f"before the model loads, {again['peak_rss_mib']:.0f} MiB in all")
        for after in (0.5, 5.0):
            fresh = work / f"cancel-{after}.sqlite3"
            late, where = cancel_latency(root, fresh, after)
            print(f"- Cancel {after} s into a first index: stopped {late:.2f} s later (at “{where or 'the walk'}”)")
        small_refresh(args.small, model, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
