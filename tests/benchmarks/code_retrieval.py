"""Project retrieval: quality, indexing throughput, refresh and query latency, with the real
all-MiniLM-L6-v2 (a sentence-transformers folder; never used by the test suite).

- quality: a real package (its installed source) with every docstring removed; each documented
  function, method or class gives a query, the first sentence of its docstring, and its target,
  the definition's file and line. R@10 and MRR@10 (a hit is a chunk of the target's file whose
  lines hold the definition) for keywords alone, vectors alone and fused at several vector weights.
  The fusion weight is chosen on the tuning package and reported on the held-out one.
- weights: fused R@10 / MRR@10 over a grid of vector weights, split by whether the query names
  identifiers; each weight chosen on tuning packages and reported on held-out ones.
- throughput: chunks embedded per second while indexing the quality packages.
- refresh: a 10,000-file project (small generated modules) indexed, then one file edited:
  the time of the refresh and re-embedding that follows.
- onnx: the model exported to ONNX (`projects.onnx_export`, timed) and the held-out package
  indexed and searched with it and with torch: chunks/s of each, R@10 / MRR@10 of each (vectors
  alone and fused), how many queries get the same top 10, the worst cosine between the two
  paths' chunk vectors.
- latency: a warm query (model loaded, in-process, median of 20; torch and the ONNX export) and a
  cold CLI `code-search` (new processes, bytecode cached, median of `--cold-runs`), with the ONNX
  export (the default once made) and with torch (`LATENT_STUDIO_CODE_EMBEDDER=torch`, as before).

Usage: python tests/benchmarks/code_retrieval.py --model DIR [--packages click,requests]
       [--parts quality,weights,refresh,onnx,latency] [--weight-tuning click,jinja2]
       [--weight-held-out requests,packaging,attr]
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))

from latentstudio.engine import DeviceInfo  # noqa: E402
from latentstudio.models import ModelRegistry, onnx_exports  # noqa: E402
from latentstudio.projects import onnx_embedder, retrieve  # noqa: E402
from latentstudio.projects.embedder import load_text_embedder  # noqa: E402
from latentstudio.projects.onnx_export import export_embedder  # noqa: E402
from latentstudio.projects.index import embed_pending, refresh  # noqa: E402
from latentstudio.projects.store import ProjectStore  # noqa: E402

MODEL_ID = "all-minilm-l6-v2"


def strip_docstrings(source: str) -> tuple[str, list[tuple[str, int]]]:
    """(source without docstrings, [(first sentence, line of its definition in the new source)])."""
    tree = ast.parse(source)
    lines = source.splitlines()
    found = []  # (docstring start, end, def line, sentence, only statement)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            doc = ast.get_docstring(node)
            first = node.body[0]
            if doc and isinstance(first, ast.Expr):
                sentence = re.split(r"(?<=[.!?])\s", " ".join(doc.split()), maxsplit=1)[0]
                found.append((first.lineno, first.end_lineno, node.lineno, sentence, len(node.body) == 1))
        elif isinstance(node, ast.Module) and ast.get_docstring(node):
            first = node.body[0]
            found.append((first.lineno, first.end_lineno, 0, "", len(node.body) == 1))
    removed_before: list[tuple[int, int]] = []
    for start, end, _, _, only in sorted(found, reverse=True):
        indent = re.match(r"\s*", lines[start - 1]).group(0)
        lines[start - 1:end] = [indent + "pass"] if only else []
        removed_before.append((start, end - start + 1 - (1 if only else 0)))
    queries = []
    for _, _, def_line, sentence, _ in found:
        if not def_line or len(sentence.split()) < 3:
            continue
        shift = sum(n for start, n in removed_before if start < def_line)
        queries.append((sentence, def_line - shift))
    return "\n".join(lines) + "\n", queries


def make_corpus(package: str, target: Path) -> list[tuple[str, str, int]]:
    """Copy the package's source without docstrings; returns (query, path, line) triples."""
    root = Path(importlib.import_module(package).__file__).parent
    queries = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent)
        try:
            stripped, found = strip_docstrings(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(stripped, encoding="utf-8")
        queries += [(q, rel.as_posix(), line) for q, line in found]
    return queries


def evaluate(store, embedder, queries, mode: str, weight: float, query_vectors=None) -> tuple[float, float]:
    vectors = store.chunk_vectors(MODEL_ID)
    if query_vectors is None:
        query_vectors = embedder.encode([q for q, _, _ in queries])
    recall = rr = 0.0
    for (query, path, line), vector in zip(queries, query_vectors):
        hits = retrieve.search(store, query, vector, MODEL_ID, limit=10, mode=mode, vectors=vectors,
                               vector_weight=weight)
        for rank, hit in enumerate(hits, 1):
            if hit.path == path and hit.start_line <= line <= hit.end_line:
                recall += 1
                rr += 1 / rank
                break
    return recall / max(len(queries), 1), rr / max(len(queries), 1)


WEIGHT_GRID = tuple(round(0.1 * k, 1) for k in range(11))


def weights(embedder, tuning: list[str], held_out: list[str], work: Path) -> None:
    """Fused R@10 / MRR@10 over a grid of vector weights, separately for queries that name
    identifiers (retrieve.identifiers_in) and those that do not; each subset's weight is chosen on
    the tuning packages (best pooled MRR@10, then R@10) and reported on the held-out ones."""
    rows = []  # (package, named, weight, queries, R@10, MRR@10)
    for package in tuning + held_out:
        root = work / f"w-{package}"
        queries = make_corpus(package, root)
        store = ProjectStore(work / f"w-{package}.sqlite3")
        index(store, root, embedder)
        for named in (False, True):
            subset = [q for q in queries if bool(retrieve.identifiers_in(q[0])) == named]
            query_vectors = embedder.encode([q for q, _, _ in subset])
            for weight in WEIGHT_GRID:
                r, mrr = evaluate(store, embedder, subset, "fused", weight, query_vectors)
                rows.append((package, named, weight, len(subset), r, mrr))
        store.close()

    def pooled(packages: list[str], named: bool, weight: float) -> tuple[int, float, float]:
        picked = [row for row in rows if row[0] in packages and row[1] == named and row[2] == weight]
        n = sum(row[3] for row in picked)
        return n, sum(row[3] * row[4] for row in picked) / n, sum(row[3] * row[5] for row in picked) / n

    print("| queries | weight | tuning n | tuning R@10 | tuning MRR@10 | held-out n | held-out R@10 | held-out MRR@10 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for named in (False, True):
        label = "name identifiers" if named else "plain words"
        best = max(WEIGHT_GRID, key=lambda w: (pooled(tuning, named, w)[2], pooled(tuning, named, w)[1]))
        for weight in WEIGHT_GRID:
            tn, tr, tm = pooled(tuning, named, weight)
            hn, hr, hm = pooled(held_out, named, weight)
            mark = " (chosen)" if weight == best else ""
            print(f"| {label} | {weight}{mark} | {tn} | {tr:.3f} | {tm:.3f} | {hn} | {hr:.3f} | {hm:.3f} |")
    print("<!-- per package: " + "; ".join(
        f"{p} {'ids' if n else 'plain'} w{w}: {q} q R {r:.3f} MRR {m:.3f}" for p, n, w, q, r, m in rows) + " -->")


def index(store, root, embedder) -> tuple[float, int, float]:
    start = time.perf_counter()
    refresh(store, root)
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    n = embed_pending(store, embedder.encode, MODEL_ID)
    return read_s, n, time.perf_counter() - start


def quality(embedder, packages: list[str], work: Path) -> None:
    print("| package | queries | chunks | mode | R@10 | MRR@10 |\n| --- | --- | --- | --- | --- | --- |")
    for package in packages:
        root = work / f"q-{package}"
        queries = make_corpus(package, root)
        store = ProjectStore(work / f"{package}.sqlite3")
        read_s, chunks, embed_s = index(store, root, embedder)
        runs = [("keywords", 0.0), ("vectors", 1.0)] + [("fused", w) for w in (0.3, 0.5, 0.7)]
        for mode, weight in runs:
            r, mrr = evaluate(store, embedder, queries, mode, weight)
            label = mode if mode != "fused" else f"fused (vector weight {weight})"
            print(f"| {package} | {len(queries)} | {chunks} | {label} | {r:.3f} | {mrr:.3f} |")
        print(f"<!-- {package}: read+chunk {read_s:.1f} s, embedded {chunks} chunks in {embed_s:.1f} s "
              f"= {chunks / embed_s:.0f} chunks/s -->")
        store.close()


def refresh_bench(embedder, work: Path, files: int) -> None:
    root = work / "big"
    for k in range(files):
        folder = root / f"pkg{k // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{k:05d}.py").write_text(
            f"def handler_{k}(request, limit={k % 50}):\n    items = request.items[:limit]\n"
            f"    return [item.name for item in items if item.id % {k % 7 + 2} == 0]\n")
    store = ProjectStore(work / "big.sqlite3")
    read_s, chunks, embed_s = index(store, root, embedder)
    print(f"- {files} files: first index read+chunk {read_s:.1f} s, embedded {chunks} chunks in {embed_s:.1f} s "
          f"({chunks / embed_s:.0f} chunks/s)")
    start = time.perf_counter()
    again = refresh(store, root)
    print(f"- refresh with nothing changed: {time.perf_counter() - start:.2f} s ({again.unchanged} unchanged)")
    edited = root / "pkg050" / "mod05000.py"
    edited.write_text(edited.read_text() + "\n\ndef added(x):\n    return x * 2\n")
    start = time.perf_counter()
    report = refresh(store, root)
    n = embed_pending(store, embedder.encode, MODEL_ID)
    print(f"- after editing one file: refresh + re-embed {time.perf_counter() - start:.2f} s "
          f"({report.changed} changed, {n} chunks embedded)")
    store.close()


def exported(embedder, model_dir: Path, work: Path):
    """The model exported into a scratch registry (timed) and loaded as the app loads it."""
    installed = ModelRegistry(work / "models").import_path(model_dir, kind="text-embedding", model_id=MODEL_ID,
                                                           link=True)
    start = time.perf_counter()
    state = export_embedder(embedder, installed)
    assert state.ready, state.reason
    record = onnx_exports.read_record(onnx_embedder.TOWER.export_folder(installed))
    print(f"- export: {time.perf_counter() - start:.1f} s (recorded {record['seconds']} s; parity over "
          f"{record['parity']['texts']} texts, worst cosine {record['parity']['min_cosine']})")
    start = time.perf_counter()
    fast = onnx_embedder.load_onnx_embedder(installed)
    print(f"- ONNX model loaded and checked in {time.perf_counter() - start:.2f} s")
    return fast


def onnx_parity(embedder, fast, work: Path, package: str) -> None:
    """The held-out package indexed and searched with torch and with the ONNX export."""
    root = work / f"q-{package}"
    queries = make_corpus(package, root)
    stores = {}
    for name, model in (("torch", embedder), ("onnx", fast)):
        stores[name] = store = ProjectStore(work / f"{package}-{name}.sqlite3")
        _, chunks, embed_s = index(store, root, model)
        print(f"- {name}: {chunks} chunks embedded in {embed_s:.1f} s = {chunks / embed_s:.0f} chunks/s")
    ids = {name: store.chunk_vectors(MODEL_ID) for name, store in stores.items()}
    assert list(ids["torch"][0]) == list(ids["onnx"][0])
    worst = onnx_exports.cosines(ids["torch"][1], ids["onnx"][1]).min()
    print(f"- chunk vectors: worst cosine between torch and ONNX {worst:.6f} over {len(ids['torch'][0])} chunks")
    vectors = {"torch": embedder.encode([q for q, _, _ in queries]), "onnx": fast.encode([q for q, _, _ in queries])}
    print(f"- query vectors: worst cosine {onnx_exports.cosines(vectors['torch'], vectors['onnx']).min():.6f}")
    print("| path | queries | mode | R@10 | MRR@10 |\n| --- | --- | --- | --- | --- |")
    for mode in ("vectors", "fused"):
        for name in ("torch", "onnx"):
            r, mrr = evaluate(stores[name], None, queries, mode, None, vectors[name])
            print(f"| {name} | {len(queries)} | {mode} | {r:.3f} | {mrr:.3f} |")
    same = 0
    for (query, _, _), v_torch, v_onnx in zip(queries, vectors["torch"], vectors["onnx"]):
        tops = [[(h.path, h.start_line) for h in retrieve.search(stores[name], query, v, MODEL_ID, limit=10,
                                                                  vectors=ids[name])]
                for name, v in (("torch", v_torch), ("onnx", v_onnx))]
        same += tops[0] == tops[1]
    print(f"- fused top 10 identical (same chunks, same order) for {same} of {len(queries)} queries")
    for store in stores.values():
        store.close()


def cold_cli(env: dict[str, str], cli: list[str], root: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cli + ["code-search", "parse the response headers", "--project", str(root), "--json"],
                       env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def latency(embedder, fast, model_dir: Path, work: Path, package: str, runs: int) -> None:
    root = work / f"q-{package}"
    store = ProjectStore(work / f"{package}.sqlite3")
    vectors = store.chunk_vectors(MODEL_ID)
    for name, model in (("torch", embedder), ("ONNX", fast)):
        if model is None:
            continue
        times = []
        for query in ["parse the response headers", "session_send retries", "encode the url parameters"] * 7:
            start = time.perf_counter()
            vector = model.encode([query])[0]
            retrieve.search(store, query, vector, MODEL_ID, limit=10, vectors=vectors)
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        retrieve.search(store, "parse the response headers", model.encode(["x"])[0], MODEL_ID, limit=10)
        with_load = time.perf_counter() - start
        print(f"- warm query, {name} ({package}, {len(vectors[0])} chunks): median "
              f"{statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; with the vectors read "
              f"from SQLite: {with_load * 1000:.0f} ms")
    store.close()
    home = work / "home"
    env = {**os.environ, "LATENT_STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    cli = [sys.executable, "-m", "latentstudio"]
    subprocess.run(cli + ["models", "import", str(model_dir), "--kind", "text-embedding", "--link"], env=env,
                   check=True, capture_output=True)
    start = time.perf_counter()
    subprocess.run(cli + ["code-search", "x", "--project", str(root), "--json"], env=env, check=True,
                   capture_output=True)  # index once (torch), then the export the command waits for
    print(f"- first CLI code-search (index with torch, then the export it waits for): "
          f"{time.perf_counter() - start:.1f} s")
    torch_env = {**env, onnx_embedder.TOWER.choice_env: "torch"}
    for name, run_env in (("ONNX export", env), ("torch (before)", torch_env), ("ONNX export", env)):
        print(f"  load average {os.getloadavg()[0]:.2f}")
        cold = cold_cli(run_env, cli, root, runs)
        print(f"- cold CLI code-search, {name} (new process, index fresh): median {statistics.median(cold):.2f} s, "
              f"min {min(cold):.2f}, max {max(cold):.2f} over {runs} runs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="the all-MiniLM-L6-v2 folder")
    parser.add_argument("--packages", default="click,requests", help="tuning package, then held-out ones")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--parts", default="quality,refresh,onnx,latency", help="also: weights")
    parser.add_argument("--cold-runs", type=int, default=7, help="latency: new processes per measured path")
    parser.add_argument("--weight-tuning", default="click,jinja2", help="weights: packages the weights are chosen on")
    parser.add_argument("--weight-held-out", default="requests,packaging,attr", help="weights: packages reported")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} CPUs")
    embedder = load_text_embedder(args.model, DeviceInfo.cpu("benchmark"), MODEL_ID)
    work = Path(tempfile.mkdtemp(prefix="code-retrieval-"))
    packages = args.packages.split(",")
    try:
        if parts & {"quality", "latency"}:
            quality(embedder, packages, work)
        if "weights" in parts:
            weights(embedder, args.weight_tuning.split(","), args.weight_held_out.split(","), work)
        if "refresh" in parts:
            refresh_bench(embedder, work, args.files)
        fast = exported(embedder, args.model, work) if parts & {"onnx", "latency"} else None
        if "onnx" in parts:
            onnx_parity(embedder, fast, work, packages[-1])
        if "latency" in parts:
            latency(embedder, fast, args.model, work, packages[-1], args.cold_runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
