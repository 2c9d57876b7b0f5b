"""`latent-studio models …`: list, import, remove and choose the default model of each kind."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .detect import KINDS


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    models = sub.add_parser("models", help="installed models: list, import, remove, set-default")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    listing = msub.add_parser("list", help="installed models (the default of each kind marked *)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    imp = msub.add_parser("import", help="copy (or link) a local model folder or file in")
    imp.add_argument("path", type=Path)
    imp.add_argument("--kind", choices=KINDS, help="refuse the import unless it is this kind")
    imp.add_argument("--id", dest="model_id", help="id to install it under (default: from its name)")
    imp.add_argument("--link", action="store_true", help="link to the original instead of copying")
    imp.add_argument("--arch", help="open_clip architecture name, for a bare open_clip checkpoint")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=cmd_import)

    remove = msub.add_parser("remove", help="delete an installed model")
    remove.add_argument("model_id")
    remove.set_defaults(func=cmd_remove)

    default = msub.add_parser("set-default", help="make a model the default of its kind")
    default.add_argument("model_id")
    default.set_defaults(func=cmd_set_default)


def cmd_list(args: argparse.Namespace, ctx) -> int:
    models = ctx.registry.list()
    defaults = ctx.registry.defaults()
    if args.json:
        rows = [{**m.to_json(), "default": defaults.get(m.kind) == m.id} for m in models]
        print(json.dumps(rows, indent=2))
        return 0
    if not models:
        print("No models installed. Import one with `latent-studio models import PATH`.")
        return 0
    for model in models:
        mark = "*" if defaults.get(model.kind) == model.id else " "
        link = " (linked)" if model.linked else ""
        print(f"{mark} {model.kind:9} {model.id:32} {model.format:20} "
              f"{model.size_bytes / 2**20:9.1f} MiB{link}")
    return 0


def cmd_import(args: argparse.Namespace, ctx) -> int:
    model = ctx.registry.import_path(
        args.path, kind=args.kind, model_id=args.model_id, link=args.link, architecture=args.arch
    )
    if args.json:
        print(json.dumps(model.to_json(), indent=2))
    else:
        print(f"Imported {model.kind} model {model.id} ({model.format}, "
              f"{model.size_bytes / 2**20:.1f} MiB){' as a link' if model.linked else ''}")
    return 0


def cmd_remove(args: argparse.Namespace, ctx) -> int:
    freed = ctx.registry.remove(args.model_id)
    print(f"Removed {args.model_id}; freed {freed / 2**20:.1f} MiB")
    return 0


def cmd_set_default(args: argparse.Namespace, ctx) -> int:
    model = ctx.registry.set_default(args.model_id)
    print(f"{model.id} is now the default {model.kind} model")
    return 0
