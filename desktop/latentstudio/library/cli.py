"""`latent-studio index …`, `latent-studio search …` and `latent-studio library status`."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from ..cli_progress import ProgressBars
from ..engine import Cancelled
from ..units import counted, format_duration
from .scan import type_formats
from .search import SearchFilters, pictures_passing
from .service import add_folders, search_library, submit_index



def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    index = sub.add_parser("index", help="add photo folders to the library and index them with CLIP")
    index.add_argument("folders", nargs="*", type=Path, help="folders to add (default: re-scan all library folders)")
    index.add_argument("--model", dest="model_id", help="CLIP model id (default: the default CLIP model)")
    index.add_argument("--json", action="store_true", help="print the summary as JSON")
    index.add_argument("--cluster", metavar="ADDRESS",
                       help="encode on a Ray cluster: 'auto' (the cluster this machine joined with "
                            "ray start --address), an address (10.0.0.5:6379, ray://head:10001), or 'local' "
                            "for a Ray runtime on this machine; needs the cluster extra")
    index.add_argument("--path-map", action="append", default=[], metavar="LOCAL=REMOTE",
                       help="the workers see folder LOCAL at REMOTE and read the files themselves (repeatable)")
    index.add_argument("--ship-bytes", action="store_true",
                       help="send the file bytes to the workers even where they could read the paths")
    index.add_argument("--batch-size", type=int, help="images per encode batch (default: 128 on a GPU, 32 on the CPU)")
    index.add_argument("--workers", type=int, help="encoder actors on the cluster (default: one per GPU, "
                                                    "else one per CPU)")
    index.set_defaults(func=cmd_index)

    find = sub.add_parser("search", help="find library images by text, by an example image, or both")
    find.add_argument(
        "text", nargs="?",
        help='what to look for; "-word" excludes a term, e.g. "beach -people"; a "quoted phrase" must be in '
        "the file's words (name, prompt, description)",
    )
    find.add_argument("--image", type=Path, help="an example image: find similar ones")
    find.add_argument("--negative", help="comma-separated terms to push away")
    find.add_argument("--text-weight", type=float, default=1.0)
    find.add_argument("--image-weight", type=float, default=1.0)
    find.add_argument("--folder", type=Path, help="only images in this folder")
    find.add_argument("--after", type=_date, help="taken on or after this date (YYYY-MM-DD)")
    find.add_argument("--before", type=_date, help="taken before this date (YYYY-MM-DD)")
    find.add_argument("--type", dest="types", action="append", default=[],
                      help="file type, e.g. jpeg, png, heic, avif, raw, video (repeatable)")
    find.add_argument("--min-side", type=int, default=0, help="shorter side at least this many pixels")
    find.add_argument("--tag", dest="tags", action="append", default=[],
                      help="only pictures with this tag (repeatable); on its own: every picture with it")
    find.add_argument("--min-rating", type=int, default=0, choices=range(0, 6), metavar="N",
                      help="only pictures rated N stars or more (XMP ratings from Lightroom, darktable, …)")
    find.add_argument("--min-score", type=float, help="score cut-off (default: from Settings)")
    find.add_argument("--limit", type=int, default=20)
    find.add_argument("--no-words", dest="words", action="store_false",
                      help="match pictures only, not the words of file names and embedded text")
    find.add_argument("--model", dest="model_id")
    find.add_argument("--json", action="store_true", help="a JSON list of {path, score, …}")
    find.set_defaults(func=cmd_search)

    lib = sub.add_parser("library", help="the photo library")
    lsub = lib.add_subparsers(dest="library_command", metavar="ACTION", required=True)
    status = lsub.add_parser("status", help="folders, counts, skipped files and their reasons")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)


def _date(text: str) -> float:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-06-30") from None


def told_recovery(ctx) -> bool:
    """Open the library; when it was damaged and rebuilt, say so (once) and return True."""
    recovery = ctx.library.take_recovery()
    if recovery is None:
        return False
    print(f"error: {recovery.describe()}", file=sys.stderr)
    return True


def cmd_index(args: argparse.Namespace, ctx) -> int:
    installed = ctx.registry.resolve("clip", args.model_id)  # fail before any work without a model
    missing = [str(f) for f in args.folders if not Path(f).expanduser().is_dir()]
    if missing:
        raise FileNotFoundError(f"not a folder: {', '.join(missing)}")
    plan = None
    if args.cluster:
        from .cluster_index import ClusterPlan, submit_cluster_index
        from .cluster_setup import PathMap, require_cluster_support

        require_cluster_support()  # before any work: the scan is not wasted on a missing extra
        plan = ClusterPlan(args.cluster, tuple(PathMap.parse(m) for m in args.path_map),
                           ship_bytes=True if args.ship_bytes else None, workers=args.workers,
                           batch_size=args.batch_size)
    elif args.path_map or args.ship_bytes or args.workers:
        raise ValueError("--path-map, --ship-bytes and --workers go with --cluster ADDRESS")
    rebuilt = told_recovery(ctx)  # a damaged library: this run rebuilds it, and exits non-zero
    add_folders(ctx, args.folders)
    library = ctx.library
    chosen = [Path(f).expanduser() for f in args.folders] or None
    scan = library.scan(chosen)
    bar = ProgressBars(sys.stderr.isatty() and not args.json, unit="img")
    if plan is not None:
        handle = submit_cluster_index(ctx, plan, installed.id, on_event=bar)
    else:
        handle = submit_index(ctx, installed.id, on_event=bar, batch_size=args.batch_size)
    interrupted = False
    try:
        report = handle.result()
    except KeyboardInterrupt:
        handle.cancel()
        handle.wait()
        interrupted = True
        report = None
    except Cancelled:
        interrupted, report = True, None
    finally:
        bar.close()
    skipped = scan.skipped + (report.skipped if report else [])
    summary = {
        "model": installed.id,
        "indexed": report.encoded if report else 0,
        "new": scan.new,
        "changed": scan.changed,
        "unchanged": scan.unchanged,
        "moved": scan.moved,
        "removed": scan.removed,
        "reused_vectors": scan.reused,
        "skipped": [{"path": p, "reason": r} for p, r in skipped],
        "missing_folders": scan.missing_folders,
        "seconds": round(report.seconds, 2) if report else None,
        "images_per_second": round(report.images_per_second, 2) if report else None,
        "encoder": report.encoder if report else "",
        "videos": report.videos if report else 0,
        "moments": report.moments if report else 0,
        "video_seconds": round(report.video_seconds, 1) if report else 0.0,
        "completed": not interrupted,
    }
    if args.cluster:
        summary["cluster"] = report.cluster_json() if report else {"address": args.cluster}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"Indexed {summary['indexed']} · new {scan.new} · changed {scan.changed} · "
            f"unchanged {scan.unchanged} · moved {scan.moved} · removed {scan.removed} · "
            f"skipped {len(skipped)}"
        )
        if report and report.encoded:
            print(f"Encoding: {report.images_per_second:.1f} images/s over {report.seconds:.1f} s"
                  + (f" ({report.encoder} picture tower)" if report.encoder else ""))
        if report and report.videos:
            print(f"Videos: {report.videos}, {format_duration(report.video_seconds)} in all, "
                  f"searchable by {report.moments} moments")
        for reason, count in Counter(r for _, r in skipped).most_common():
            print(f"  skipped {count}: {reason}")
        for path, reason in skipped[:20]:
            print(f"    {path}: {reason}")
        for folder in scan.missing_folders:
            print(f"  folder not found (kept in the library): {folder}")
        if args.cluster and report and report.workers:
            nodes = ", ".join(f"{node}: {count}" for node, count in report.nodes.items())
            print(f"Cluster {report.address} · {report.workers} worker(s) · files sent as {report.transport} · {nodes}")
            for path in report.missing[:20]:
                print(f"  not visible to the workers (still waiting; check --path-map): {path}")
    if interrupted:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    finish_exports(ctx, installed.id)
    if rebuilt:
        print("The library was rebuilt after damage (see above).", file=sys.stderr)
        return 1
    return 0


def cmd_search(args: argparse.Namespace, ctx) -> int:
    if not (args.text or args.image or args.tags or args.folder or args.after or args.before or args.types
            or args.min_side or args.min_rating):
        raise ValueError("give some words to search for, --image PATH, --tag LABEL, or a filter "
                         "(--folder, --after, --before, --type, --min-side, --min-rating) to list its pictures")
    if told_recovery(ctx):
        print("Run `latent-studio index` to bring it up to date, then search again.", file=sys.stderr)
        return 1
    if args.image is not None and not args.image.expanduser().is_file():
        raise FileNotFoundError(f"no such image: {args.image}")
    filters = SearchFilters(
        folder=args.folder.expanduser() if args.folder else None,
        date_from=args.after,
        date_to=args.before,
        file_types=tuple(f for name in args.types for f in type_formats(name)),
        min_side=args.min_side,
        tags=tuple(args.tags),
        min_rating=args.min_rating,
    )
    if args.tags:
        from .analysis.service import submit_tag_update

        submit_tag_update(ctx, args.model_id).result()  # the new pictures' tags, before filtering on them
    hits = search_library(
        ctx,
        text=args.text or None,
        image=args.image.expanduser() if args.image else None,
        negative=args.negative,
        limit=args.limit,
        filters=filters,
        min_score=args.min_score,
        text_weight=args.text_weight,
        image_weight=args.image_weight,
        model_id=args.model_id,
        words=args.words,
    )
    if args.json:
        print(json.dumps([hit.to_json() for hit in hits], indent=2))
    else:
        if not hits:
            print(_nothing_found(ctx, args.model_id, filters), file=sys.stderr)
        for hit in hits:
            at = f"  at {format_duration(hit.time)}" if hit.time is not None else ""
            print(f"{hit.score:.3f}  {hit.matched:7}  {hit.kind:9}  {hit.path}{at}")
    sys.stdout.flush()
    # A large library's matrix is written to disk once, so the next search starts fast.
    library = ctx.library
    model = ctx.registry.resolve("clip", args.model_id).id
    if library.should_save_index(model):
        library.save_index(model)
    finish_exports(ctx, model)
    return 0


def finish_exports(ctx, model: str) -> None:
    """Wait for the ONNX exports queued because the torch model had to run (once per model), so
    the next runs need no torch; Ctrl+C leaves them for another time."""
    ctx.clip_exports.finish(model, lambda: print("Preparing fast search for the next runs (once per model)…",
                                                 file=sys.stderr))


def _nothing_found(ctx, model_id: Optional[str], filters: SearchFilters) -> str:
    """Why a search found nothing: the filters, or the score cut-off."""
    if filters != SearchFilters():
        model = ctx.registry.resolve("clip", model_id).id
        if pictures_passing(ctx.library, model, filters) == 0:
            return "No picture passes the filters (folder, dates, type, size, tags): widen or drop them."
    return "No matches above the score cut-off."


def _when(timestamp: Optional[float]) -> str:
    if not timestamp:
        return "never"
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def cmd_status(args: argparse.Namespace, ctx) -> int:
    if told_recovery(ctx):
        print("Run `latent-studio index` to bring it up to date.", file=sys.stderr)
        return 1
    status = ctx.library.store.status()
    default = ctx.registry.default("clip")
    status["model"] = default.id if default else None
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"Library: {counted(status['images'], 'image')} · {status['indexed']} indexed · "
          f"{status['pending']} waiting · {status['skipped']} skipped")
    kinds = status["kinds"]
    print(f"  of which camera RAW {kinds['raw']} · videos {kinds['video']} ({kinds['moments']} moments) · "
          f"paired with a RAW or a Live Photo video {kinds['paired']} · rated {kinds['rated']}")
    print(f"CLIP model: {status['model'] or 'none installed'}")
    for model, count in status["vectors"].items():
        print(f"  vectors for {model}: {count}")
    for folder in status["folders"]:
        print(f"  {folder['path']} ({folder['role']}): {counted(folder['images'], 'image')}, {folder['indexed']} indexed, "
              f"{folder['pending']} waiting, {folder['skipped']} skipped; scanned {_when(folder['scanned'])}")
    for reason, count in status["skip_reasons"].items():
        print(f"  skipped {count}: {reason}")
    return 0
