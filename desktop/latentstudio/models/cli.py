"""`latent-studio models …`: the catalogue and downloads; list, import, remove and choose the
default model of each kind."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..cli_progress import ProgressBars
from ..units import format_bytes
from .batch_import import collection_members, import_collection
from .catalogue import Catalogue, CatalogueEntry
from .addons import ADDON_KINDS, family_label
from .detect import BASE_KINDS, KINDS
from .download import DownloadError, DownloadProgress, download_for_app
from .network import NetworkDisabledError
from .registry import WEIGHTS_ONLY_KINDS, format_label
from .upscalers import UPSCALER_KIND


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    models = sub.add_parser("models", help="models: available, download, list, import, remove, set-default")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    available = msub.add_parser("available", help="the catalogue of recommended models (installed ones marked)")
    available.add_argument("--json", action="store_true")
    available.set_defaults(func=cmd_available)

    download = msub.add_parser("download", help="download a catalogue model (resumes an interrupted one)")
    download.add_argument("model_id", metavar="ID", help="an id from `models available`")
    download.set_defaults(func=cmd_download)

    listing = msub.add_parser("list", help="installed models (the default of each kind marked *)")
    listing.add_argument("--kind", choices=KINDS, help="only this kind (e.g. lora, embedding)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    imp = msub.add_parser(
        "import", help="copy (or link) a local model folder or file in; a folder of models imports each"
    )
    imp.add_argument("path", type=Path)
    imp.add_argument("--kind", choices=KINDS, help="refuse the import unless it is this kind")
    imp.add_argument(
        "--id",
        dest="model_ids",
        action="append",
        default=[],
        metavar="ID",
        help="id to install it under (default: from its name); for a folder of models, one --id per model, "
        "in the order `models import` lists them",
    )
    imp.add_argument("--link", action="store_true", help="link to the original instead of copying")
    imp.add_argument("--arch", help="open_clip architecture name, for a bare open_clip checkpoint")
    imp.add_argument(
        "--weights-only",
        action="store_true",
        help="accept pickle checkpoints (.ckpt/.bin/.pt/.pth): load them with torch's weights_only "
        "unpickler and keep a .safetensors copy",
    )
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=cmd_import)

    remove = msub.add_parser("remove", help="delete an installed model")
    remove.add_argument("model_id")
    remove.set_defaults(func=cmd_remove)

    default = msub.add_parser("set-default", help="make a model the default of its kind")
    default.add_argument("model_id")
    default.set_defaults(func=cmd_set_default)


def cmd_list(args: argparse.Namespace, ctx) -> int:
    models = ctx.registry.list(args.kind)
    defaults = ctx.registry.defaults()
    if args.json:
        rows = [{**m.to_json(), "default": defaults.get(m.kind) == m.id} for m in models]
        print(json.dumps(rows, indent=2))
        return 0
    if not models:
        what = f"{args.kind} models" if args.kind else "models"
        print(f"No {what} installed. Import one with `latent-studio models import PATH`.")
        return 0
    for model in models:
        mark = "*" if defaults.get(model.kind) == model.id else " "
        link = " (linked)" if model.linked else ""
        fits = f" for {family_label(model.variant)}" if model.kind in ADDON_KINDS and model.variant else ""
        if model.kind == UPSCALER_KIND and model.variant:
            fits = f" {model.variant}"  # its scale
        print(f"{mark} {model.kind:9} {model.id:32} {format_label(model.format):26} "
              f"{format_bytes(model.size_bytes):>9}{link}{fits}")
    return 0


def _print_imported(model) -> None:
    print(f"Imported {model.kind} model {model.id} ({format_label(model.format)}, "
          f"{format_bytes(model.size_bytes)}){' as a link' if model.linked else ''}")


def cmd_import(args: argparse.Namespace, ctx) -> int:
    # A1111 .pt embeddings and ESRGAN .pth upscalers are tensors only: torch's weights_only unpickler
    # reads them (and refuses more).
    args.weights_only = args.weights_only or args.kind in WEIGHTS_ONLY_KINDS
    if collection_members(args.path.expanduser(), args.weights_only):
        outcomes = import_collection(
            ctx.registry,
            args.path.expanduser(),
            kind=args.kind,
            link=args.link,
            weights_only=args.weights_only,
            model_ids=args.model_ids,
        )
        if args.json:
            print(json.dumps([{"path": str(o.path), "model": o.model.to_json() if o.model else None,
                               "error": o.error} for o in outcomes], indent=2))
        for outcome in outcomes:
            if args.json:
                continue
            if outcome.model is not None:
                _print_imported(outcome.model)
            else:
                print(f"Refused {outcome.path.name}: {outcome.error}", file=sys.stderr)
        return 0 if all(o.model is not None for o in outcomes) else 1
    if len(args.model_ids) > 1:
        raise ValueError(f"{args.path.name} is one model: give at most one --id")
    model = ctx.registry.import_path(
        args.path,
        kind=args.kind,
        model_id=args.model_ids[0] if args.model_ids else None,
        link=args.link,
        architecture=args.arch,
        weights_only=args.weights_only,
    )
    if args.json:
        print(json.dumps(model.to_json(), indent=2))
    else:
        _print_imported(model)
    return 0


def cmd_remove(args: argparse.Namespace, ctx) -> int:
    freed = ctx.registry.remove(args.model_id)
    print(f"Removed {args.model_id}; freed {format_bytes(freed)}")
    return 0


def cmd_set_default(args: argparse.Namespace, ctx) -> int:
    model = ctx.registry.set_default(args.model_id)
    print(f"{model.id} is now the default {model.kind} model")
    return 0


def _installed_entries(ctx) -> dict[str, str]:
    """catalogue id -> installed model id."""
    marks = {}
    for model in ctx.registry.list():
        marks[str(model.extra.get("catalogue_id") or model.id)] = model.id
    return marks


def _device(ctx):
    from ..engine.device import detect_device

    return ctx.engine.device if ctx.engine_started else detect_device(ctx.settings.device)


def cmd_available(args: argparse.Namespace, ctx) -> int:
    catalogue = Catalogue.load()
    installed = _installed_entries(ctx)
    device = _device(ctx)
    recommended = {kind: catalogue.recommended(kind, device) for kind in BASE_KINDS + (UPSCALER_KIND,)}
    rows: list[dict[str, Any]] = []
    for entry in catalogue.entries:
        pick = recommended.get(entry.kind)
        rows.append(
            {
                **entry.to_json(),
                "installed": entry.id in installed,
                "recommended": pick is not None and pick.id == entry.id,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"Recommended for {device.describe()} marked *; installed marked +")
    for row in rows:
        marks = ("*" if row["recommended"] else " ") + ("+" if row["installed"] else " ")
        print(f"{marks} {row['kind']:9} {row['id']:30} {format_bytes(row['size_bytes']):>9}  {row['licence']}")
    print("Download one with `latent-studio models download ID`.")
    return 0


def _describe_entry(entry: CatalogueEntry) -> str:
    return (f"{entry.name} ({entry.repo}), about {format_bytes(entry.size_bytes)}\n"
            f"Licence: {entry.licence}" + (f" <{entry.licence_url}>" if entry.licence_url else ""))


def cmd_download(args: argparse.Namespace, ctx) -> int:
    entry = Catalogue.load().get(args.model_id)
    print(_describe_entry(entry))
    bars = ProgressBars(unit="B", unit_scale=True)

    def progress(report: DownloadProgress) -> None:
        if report.phase in ("connecting", "installing"):
            print(report.describe(), file=sys.stderr)
        elif report.total_bytes:
            bars.update("download", report.done_bytes, report.total_bytes, report.phase)

    try:
        model = download_for_app(ctx, entry, on_progress=progress)
    except (DownloadError, NetworkDisabledError) as exc:
        bars.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        bars.close()
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    bars.close()
    print(f"Installed {model.kind} model {model.id} ({format_bytes(model.size_bytes)}) in {model.folder}")
    return 0
