"""`latent-studio tag …`, `duplicates`, `themes` and `map`: the analysis from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ...units import counted
from ..store import analysis_tables as tables
from . import service
from .duplicates import LEVELS
from .layout import METHODS
from .tags import suggested_tags


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    tag = sub.add_parser("tag", help="tags in words: pictures tagged by what they show")
    tsub = tag.add_subparsers(dest="tag_command", metavar="ACTION", required=True)
    add = tsub.add_parser("add", help="add tags (a word or a phrase each)")
    add.add_argument("labels", nargs="*", metavar="LABEL")
    add.add_argument("--group", help="a tag group: each picture gets at most one of its tags")
    add.add_argument("--example", dest="examples", action="append", type=Path, default=[], metavar="IMAGE",
                     help="a picture showing the tag (repeatable)")
    add.add_argument("--suggested", action="store_true", help="also add the bundled suggested tags")
    add.add_argument("--model", dest="model_id")
    add.set_defaults(func=cmd_tag_add)
    listing = tsub.add_parser("list", help="the tags with how many pictures carry each")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--model", dest="model_id")
    listing.set_defaults(func=cmd_tag_list)
    remove = tsub.add_parser("remove", help="remove a tag (its marks too; pictures are untouched)")
    remove.add_argument("label")
    remove.set_defaults(func=cmd_tag_remove)
    for name, verdict, text in (("confirm", tables.CONFIRMED, "the picture has this tag, whatever its score"),
                                ("reject", tables.REJECTED, "the picture does not have this tag"),
                                ("unmark", None, "forget a confirm or reject")):
        mark = tsub.add_parser(name, help=text)
        mark.add_argument("label")
        mark.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
        mark.set_defaults(func=cmd_tag_mark, verdict=verdict)
    adjust = tsub.add_parser("adjust", help="shift a tag's threshold (in standard deviations; + is stricter)")
    adjust.add_argument("label")
    adjust.add_argument("shift", type=float)
    adjust.set_defaults(func=cmd_tag_adjust)

    dup = sub.add_parser("duplicates", help="exact copies, near-duplicates and similar series, kept apart")
    dup.add_argument("--level", choices=LEVELS, help="only this level (default: all three)")
    dup.add_argument("--json", action="store_true", help="a JSON list of groups: level, id, members (path, …)")
    dup.add_argument("--trash", action="store_true",
                     help="move every copy but the one marked keep to the system trash "
                          "(needs --level exact or near; a similar series is never trashed wholesale)")
    dup.add_argument("--model", dest="model_id")
    dup.set_defaults(func=cmd_duplicates)

    themes = sub.add_parser("themes", help="what the library (or a folder) holds: themes, counts, examples")
    themes.add_argument("--folder", type=Path, help="only the pictures under this folder")
    themes.add_argument("--refit", action="store_true", help="cluster again instead of updating")
    themes.add_argument("--json", action="store_true")
    themes.add_argument("--model", dest="model_id")
    themes.set_defaults(func=cmd_themes)

    layout = sub.add_parser("map", help="a 2-D map of every picture (path, x, y, theme)")
    layout.add_argument("--method", choices=METHODS, help="layout method (default: the best installed)")
    layout.add_argument("--refit", action="store_true", help="lay out again instead of updating")
    layout.add_argument("--json", action="store_true", help="a JSON list of {path, x, y, theme}")
    layout.add_argument("--model", dest="model_id")
    layout.set_defaults(func=cmd_map)


def cmd_tag_add(args: argparse.Namespace, ctx) -> int:
    if not args.labels and not args.suggested:
        raise ValueError("give a word or phrase for the tag, or --suggested")
    added = service.add_tags(ctx, args.labels, args.group, args.examples, args.model_id) if args.labels else []
    if args.suggested:
        known = {t.label.lower() for t in tables.tags(ctx.library.store)}
        for label, group in suggested_tags():
            if label.lower() not in known:
                added += service.add_tags(ctx, [label], group, model_id=args.model_id)
    print(f"Added {len(added)} tag(s): {', '.join(t.label for t in added)}")
    return 0


def cmd_tag_list(args: argparse.Namespace, ctx) -> int:
    if ctx.registry.default("clip") is not None or args.model_id:
        service.submit_tag_update(ctx, args.model_id).result()
    store = ctx.library.store
    counts = tables.tag_counts(store)
    listed = [
        {
            "label": t.label,
            "group": t.group,
            "count": counts.get(t.id, 0),
            "threshold": round(t.calibration["threshold"] + t.adjust, 4) if t.calibration else None,
            "adjust": t.adjust,
            "examples": tables.example_paths(store, t.id),
        }
        for t in tables.tags(store)
    ]
    if args.json:
        print(json.dumps(listed, indent=2))
        return 0
    if not listed:
        print("No tags yet: add some with `latent-studio tag add LABEL…` (or --suggested).")
    for t in listed:
        group = f"  [{t['group']}]" if t["group"] else ""
        print(f"{t['count']:7d}  {t['label']}{group}")
    return 0


def cmd_tag_remove(args: argparse.Namespace, ctx) -> int:
    service.remove_tag(ctx, args.label)
    print(f"Removed tag {args.label!r}")
    return 0


def cmd_tag_mark(args: argparse.Namespace, ctx) -> int:
    for image in args.images:
        service.mark_tag(ctx, image, args.label, args.verdict)
    return 0


def cmd_tag_adjust(args: argparse.Namespace, ctx) -> int:
    tables.set_adjust(ctx.library.store, args.label, args.shift)
    return 0


def cmd_duplicates(args: argparse.Namespace, ctx) -> int:
    if args.trash and not args.level:
        raise ValueError("--trash moves files: say which groups with --level exact or near")
    if args.trash and args.level == "similar":
        raise ValueError("--trash does not move similar series: their pictures differ; choose them one by one "
                         "on the Duplicates page")
    groups = service.submit_duplicates(ctx, (args.level,) if args.level else LEVELS, args.model_id).result()
    if args.json:
        print(json.dumps([g.to_json() for g in groups], indent=2))
    else:
        if not groups:
            print("No duplicates found.")
        for group in groups:
            score = f" (cosine ≥ {group.score:.3f})" if group.score is not None else ""
            print(f"{group.level} {group.id}: {counted(len(group.members), 'picture')}{score}")
            for member in group.members:
                r = member.row
                mark = "keep" if member.keep else "    "
                print(f"  {mark} {r.width or '?'}×{r.height or '?'} {r.size:>10} B  {r.path}")
    if args.trash:
        chosen = [m.row.path for g in groups for m in g.suggested()]
        report = service.trash_pictures(ctx, chosen)
        print(f"Moved {len(report.moved)} picture(s) to the trash", file=sys.stderr)
        for path, reason in report.failed:
            print(f"  not moved: {path}: {reason}", file=sys.stderr)
        return 1 if report.failed else 0
    return 0


def cmd_themes(args: argparse.Namespace, ctx) -> int:
    if args.folder is not None and not args.folder.expanduser().is_dir():
        raise FileNotFoundError(f"not a folder: {args.folder}")
    summaries = service.submit_themes(ctx, args.folder, args.refit, args.model_id).result()
    if args.json:
        print(json.dumps([s.to_json() for s in summaries], indent=2))
        return 0
    if not summaries:
        print("No indexed pictures here yet.")
    for summary in summaries:
        print(f"{summary.count:7d}  {summary.name}")
        for path in summary.examples:
            print(f"           {path}")
    return 0


def cmd_map(args: argparse.Namespace, ctx) -> int:
    points = service.submit_map(ctx, args.method, args.refit, args.model_id).result()
    layout = points.layout
    listed = [
        {"path": row.path, "x": round(float(x), 5), "y": round(float(y), 5),
         "theme": points.themes.names[t] if points.themes.names else None}
        for row, (x, y), t in zip(points.rows, layout.xy, points.theme_of.tolist()) if row is not None
    ]
    if args.json:
        print(json.dumps(listed, indent=2))
    else:
        print(f"Map of {counted(len(listed), 'picture')} ({layout.method})")
        for point in listed:
            print(f"{point['x']:+.3f} {point['y']:+.3f}  {point['theme'] or ''}  {point['path']}")
    return 0
