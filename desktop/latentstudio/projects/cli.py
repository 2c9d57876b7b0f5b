"""`latent-studio projects add|list|remove` and `code-search QUERY --project DIR`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional

from ..cli_progress import ProgressBars
from .folders import ProjectFolders
from .service import KIND, IndexReport, open_store, submit_index, submit_search
from .store import ProjectStore


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    projects = sub.add_parser("projects", help="project folders whose code the Code page searches")
    actions = projects.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a project folder and index it")
    add.add_argument("folder", type=Path)
    add.add_argument("--no-index", action="store_true", help="only add it; it is indexed when first searched")
    add.set_defaults(func=cmd_add)
    listing = actions.add_parser("list", help="the project folders, with what their index holds")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    remove = actions.add_parser("remove", help="forget a project and its index (its files are not touched)")
    remove.add_argument("folder", type=Path)
    remove.set_defaults(func=cmd_remove)

    search = sub.add_parser(
        "code-search", help="search a project's code by meaning and words",
        description="Indexes the project or refreshes its index first (with a progress bar), then "
        "ranks its chunks by fused vector and keyword rank.",
    )
    search.add_argument("query")
    search.add_argument("--project", type=Path, required=True, metavar="DIR")
    search.add_argument("--limit", type=int, default=10, metavar="N")
    search.add_argument("--mode", choices=("fused", "keywords", "vectors"), default="fused",
                        help=argparse.SUPPRESS)
    search.add_argument("--model", dest="model_id", metavar="ID", help="text-embedding model (default: the default)")
    search.add_argument("--json", action="store_true",
                        help='print {"hits": [{"path", "start_line", "end_line", "symbol", "score", "matched"}]}')
    search.set_defaults(func=cmd_code_search)


def cmd_add(args: argparse.Namespace, ctx) -> int:
    project = ProjectFolders(ctx.paths.home).add(args.folder)
    print(f"added {project.path}")
    if not args.no_index:
        report = index_project(ctx, project.path, None, show_progress=True)
        print(report.describe(), file=sys.stderr)
        finish_export(ctx, None)
    return 0


def cmd_list(args: argparse.Namespace, ctx) -> int:
    folders = ProjectFolders(ctx.paths.home)
    rows = []
    for project in folders.list():
        counts: dict[str, int] = {}
        index = folders.index_path(project.path)
        if index.exists():
            store = ProjectStore(index)
            try:
                counts = store.counts()
            finally:
                store.close()
        rows.append({"path": str(project.path), "added": project.added, "exists": project.path.is_dir(), **counts})
    if args.json:
        print(json.dumps({"projects": rows}, indent=2))
    elif not rows:
        print("no projects; add one with `latent-studio projects add DIR`")
    for row in [] if args.json else rows:
        state = "" if row["exists"] else "  (folder missing)"
        print(f"{row['path']}  {row.get('files ok', 0)} files, {row.get('chunks', 0)} chunks{state}")
    return 0


def cmd_remove(args: argparse.Namespace, ctx) -> int:
    if not ProjectFolders(ctx.paths.home).remove(args.folder):
        raise ValueError(f"{args.folder} is not a project; see `latent-studio projects list`")
    print(f"removed {Path(args.folder).expanduser().resolve()} (its files are untouched)")
    return 0


def index_project(ctx, folder: Path, model_id: Optional[str], show_progress: bool,
                  queue_export: bool = True) -> IndexReport:
    """Index or refresh a project on the engine, with a progress bar; Ctrl-C stops (what was done stays).
    `queue_export`: when torch embedded, queue the model's ONNX export after the index."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"project folder not found: {folder}")
    store = open_store(ctx.paths.home, folder)
    bars = ProgressBars(show_progress and sys.stderr.isatty(), unit="it")
    handle = submit_index(ctx.engine, ctx.registry, store, folder, model_id, on_event=bars,
                          exports=ctx.embedder_exports if queue_export else None)
    try:
        return handle.result()
    except KeyboardInterrupt:
        handle.cancel()
        handle.wait()
        print("indexing stopped; what was indexed is kept, and the next run goes on from there", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        bars.close()


def project_hits(ctx, folder: Path, query: str, limit: int, model_id: Optional[str], mode: str = "fused",
                 show_progress: bool = True) -> list[Any]:
    # The search queues the export, after its answer: queued by the index, it would run first.
    index_project(ctx, folder, model_id, show_progress, queue_export=False)
    store = open_store(ctx.paths.home, Path(folder).expanduser().resolve())
    return submit_search(ctx.engine, ctx.registry, store, query, limit, model_id, mode,
                         exports=ctx.embedder_exports).result()


def finish_export(ctx, model_id: Optional[str]) -> None:
    """Wait for the ONNX export queued because the torch model had to run (once per model), so
    the next code search needs no torch; Ctrl+C leaves it for another time."""
    ctx.embedder_exports.finish(
        ctx.registry.resolve(KIND, model_id).id,
        lambda: print("Preparing fast code search for the next runs (once per model)…", file=sys.stderr))


def cmd_code_search(args: argparse.Namespace, ctx) -> int:
    if args.limit < 1:
        raise ValueError("--limit must be at least 1")
    hits = project_hits(ctx, args.project, args.query, args.limit, args.model_id, args.mode, not args.json)
    if args.json:
        print(json.dumps({"hits": [hit.to_json() for hit in hits]}, indent=2))
    else:
        if not hits:
            print("no matching code", file=sys.stderr)
        for hit in hits:
            symbol = f"  {hit.symbol}" if hit.symbol else ""
            print(f"{hit.score:.4f}  {hit.path}:{hit.start_line}-{hit.end_line}{symbol}  ({hit.matched})")
    sys.stdout.flush()
    finish_export(ctx, args.model_id)
    return 0
