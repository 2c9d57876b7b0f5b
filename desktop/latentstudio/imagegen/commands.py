"""`latent-studio generate-image PROMPT …`: generate images headless, one progress bar per image."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

from ..cli_progress import ProgressBars
from ..engine import Cancelled
from .request import GenerationRequest, parse_size
from .schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES

LIBRARY_WAIT_S = 120.0


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    gen = sub.add_parser(
        "generate-image",
        help="generate images from a prompt (written to the outputs folder with their settings)",
    )
    gen.add_argument("prompt")
    gen.add_argument("--negative", default="", help="negative prompt")
    gen.add_argument("--seed", type=int, default=None, help="default: random (the seed used is recorded)")
    gen.add_argument("--steps", type=int, default=25, help="sampling steps (default 25)")
    gen.add_argument("--guidance", type=float, default=7.0, help="CFG scale (default 7)")
    gen.add_argument("--size", default=None, help="WIDTHxHEIGHT (default: the model's native size)")
    gen.add_argument(
        "--scheduler", default=DEFAULT_SCHEDULER, help=f"one of: {', '.join(SCHEDULER_NAMES)} (default {DEFAULT_SCHEDULER})"
    )
    gen.add_argument("--count", type=int, default=1, help="images; seeds follow on from the first")
    gen.add_argument("--init-image", type=Path, default=None, help="start from this image (img2img)")
    gen.add_argument("--strength", type=float, default=0.75, help="img2img: how much to change the init image, 0-1 (default 0.75)")
    gen.add_argument("--model", dest="model_id", default=None, help="installed diffusion model id (default: the default diffusion model)")
    gen.add_argument(
        "--format", dest="file_format", choices=("png", "jpeg", "webp"), default="png",
        help="file format (default png; jpeg/webp keep the settings as EXIF UserComment, as A1111 writes them)",
    )
    gen.add_argument("--json", action="store_true", help="print paths, seeds and seconds as JSON")
    gen.set_defaults(func=cmd_generate_image)

    info = sub.add_parser(
        "info",
        help="show the generation settings stored in images (ours, A1111, ComfyUI, InvokeAI, Fooocus, NovelAI)",
    )
    info.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    info.add_argument("--json", action="store_true", help="one JSON object per image, in a list")
    info.set_defaults(func=cmd_info)


def cmd_generate_image(args: argparse.Namespace, ctx: Any) -> int:
    from .generate import submit_generation

    width = height = None
    if args.size:
        width, height = parse_size(args.size)
    request = GenerationRequest(
        prompt=args.prompt,
        negative_prompt=args.negative,
        seed=args.seed,
        steps=args.steps,
        guidance=args.guidance,
        width=width,
        height=height,
        scheduler=args.scheduler,
        count=args.count,
        init_image=args.init_image,
        strength=args.strength,
        model_id=args.model_id,
        file_format=args.file_format,
    )
    started = time.perf_counter()
    handles = submit_generation(ctx, request, on_event=ProgressBars(enabled=not args.json))
    results = []
    try:
        for handle in handles:
            results.append(handle.result())
            if not args.json:
                print(results[-1].path, flush=True)
    except Cancelled:
        print("error: generation was cancelled", file=sys.stderr)
        return 1
    finally:
        for handle in handles:
            if not handle.done():
                handle.cancel()
    _wait_for_library(results)
    if args.json:
        print(json.dumps({
            "images": [r.to_json() for r in results],
            "paths": [str(r.path) for r in results],
            "seeds": [r.seed for r in results],
            "seconds": round(time.perf_counter() - started, 3),
        }, indent=2))
    return 0


def _wait_for_library(results: list[Any], timeout: Optional[float] = LIBRARY_WAIT_S) -> None:
    """Let the queued embedding of new images finish, so they are searchable once we exit."""
    for result in results:
        if result.library_job is not None:
            try:
                result.library_job.result(timeout)
            except (Exception, Cancelled):  # the next index run picks the image up
                pass


def describe_reading(reading: Any) -> list[str]:
    """The lines `info` prints for one file."""
    meta = reading.metadata
    if meta is None:
        return [f"{reading.path}: nothing read: {reading.reason}"]
    lines = [f"{reading.path}: {meta.tool} ({meta.found_in})"]
    rows = [
        ("prompt", meta.prompt),
        ("negative", meta.negative_prompt),
        ("seed", meta.seed),
        ("steps", meta.steps),
        ("guidance", None if meta.guidance is None else f"{meta.guidance:g}"),
        ("size", f"{meta.width}x{meta.height}" if meta.width and meta.height else None),
        ("sampler", meta.scheduler),
        ("strength", None if meta.strength is None else f"{meta.strength:g}"),
        ("model", meta.model),
        ("model hash", meta.model_hash),
    ]
    for name, value in rows:
        if value not in (None, ""):
            text = str(value).replace("\n", "\n" + " " * 14)
            lines.append(f"  {name:11} {text}")
    for key, value in meta.extras.items():
        lines.append(f"  · {key}: {value if len(value) <= 200 else value[:199] + '…'}")
    return lines


def cmd_info(args: argparse.Namespace, ctx: Any) -> int:
    from .metadata import read_reading

    readings = [read_reading(path) for path in args.images]
    if args.json:
        print(json.dumps([r.to_json() for r in readings], indent=2, ensure_ascii=False))
    else:
        for reading in readings:
            print("\n".join(describe_reading(reading)))
    return 1 if any(not r.format for r in readings) else 0  # a missing or unreadable file
