"""`latent-studio export-embeddings …` and `latent-studio import-embeddings …` (clip-retrieval layout)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..cli_progress import ProgressBars
from ..engine import Cancelled, Priority
from ..units import counted


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    export = sub.add_parser("export-embeddings", help="write the library's image vectors in clip-retrieval's layout")
    export.add_argument("folder", type=Path, help="an empty or new folder: gets img_emb/ and metadata/")
    export.add_argument("--format", choices=["clip-retrieval"], default="clip-retrieval")
    export.add_argument("--model", dest="model_id", help="CLIP model id (default: the default CLIP model)")
    export.add_argument("--json", action="store_true")
    export.set_defaults(func=cmd_export)

    load = sub.add_parser("import-embeddings",
                          help="bring clip-retrieval output (img_emb/*.npy + metadata/*.parquet) into the library")
    load.add_argument("folder", type=Path, help="clip-retrieval's output folder")
    load.add_argument("--model", dest="model_id", help="the CLIP model that made the vectors (default: the default)")
    load.add_argument("--path-map", action="append", default=[], metavar="LOCAL=REMOTE",
                      help="image paths written as REMOTE/… are this machine's LOCAL/… (repeatable)")
    load.add_argument("--no-sample-check", action="store_true",
                      help="skip re-encoding a few images here to confirm the vectors come from the model")
    load.add_argument("--json", action="store_true")
    load.set_defaults(func=cmd_import)


def cmd_export(args: argparse.Namespace, ctx) -> int:
    from .embedding_exchange import export_clip_retrieval

    model = ctx.registry.resolve("clip", args.model_id).id
    report = export_clip_retrieval(ctx.library, model, args.folder)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(f"Exported {counted(report.vectors, 'vector')} ({report.dim} dimensions, model {model}) to {report.folder} "
              f"in {len(report.partitions)} partition(s)")
    return 0


def cmd_import(args: argparse.Namespace, ctx) -> int:
    from ..models.clip_loader import clip_in_job
    from .cluster_setup import PathMap
    from .embedding_exchange import import_clip_retrieval

    installed = ctx.registry.resolve("clip", args.model_id)
    maps = [PathMap.parse(m) for m in args.path_map]
    library = ctx.library

    def run(job):
        with clip_in_job(job, installed) as clip:
            def progress(done: int, total: int) -> None:
                job.progress(done, total, f"{done}/{total} vectors")
                job.checkpoint()

            return import_clip_retrieval(library, installed.id, clip, args.folder, maps,
                                         check_sample=not args.no_sample_check, progress=progress)

    bar = ProgressBars(sys.stderr.isatty() and not args.json, unit="vectors")
    handle = ctx.engine.submit(run, priority=Priority.BACKGROUND, name="Import embeddings", kind="index",
                               on_event=bar)
    try:
        report = handle.result()
    except KeyboardInterrupt:
        handle.cancel()
        handle.wait()
        print("interrupted: the batches written so far are kept; run it again to finish", file=sys.stderr)
        return 130
    except Cancelled:
        return 130
    finally:
        bar.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(f"Imported {report.imported} of {counted(report.rows, 'vector')} for {installed.id} · "
              f"{counted(report.already_indexed, 'image')} already had one · {counted(len(report.unknown), 'path')} unknown")
        if report.sample_cosine is not None:
            print(f"  checked on a few images re-encoded here: median cosine {report.sample_cosine:.3f}")
        for path in report.unknown[:20]:
            print(f"  not in the library: {path}")
    return 0
