"""`latent-studio generate-image`, `upscale`, `describe` and `prompt-help`: images, upscaled pictures,
pictures as prompts, prompt help, headless."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

from ..cli_progress import ProgressBars
from ..engine import Cancelled, EventKind, JobEvent
from .readers.addons import addon_text
from .request import ImageRequest, parse_outpaint, parse_size
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
    gen.add_argument(
        "--best-of", type=int, default=None, metavar="N",
        help="generate N candidates and list them ranked by CLIP score, best first (needs a CLIP model)",
    )
    gen.add_argument("--init-image", type=Path, default=None, help="start from this image (img2img)")
    gen.add_argument("--strength", type=float, default=0.75, help="img2img: how much to change the init image, 0-1 (default 0.75)")
    gen.add_argument("--mask", type=Path, default=None,
                     help="inpaint: a picture the init image's size whose white parts are repainted; the rest is kept exactly")
    gen.add_argument("--mask-blur", type=int, default=4, metavar="N", help="feather the mask by N pixels (default 4)")
    gen.add_argument("--masked-only", action="store_true",
                     help="repaint a crop around the mask at the model's native size, then paste it back")
    gen.add_argument("--masked-padding", type=int, default=32, metavar="N",
                     help="with --masked-only: pixels of context around the mask (default 32)")
    gen.add_argument("--outpaint", default=None, metavar="LEFT,TOP,RIGHT,BOTTOM",
                     help="extend the init image by these pixels and paint the new border; the original is kept exactly")
    gen.add_argument("--hires-scale", type=float, default=1.0, metavar="X",
                     help="hires fix: generate at the native size, upscale X times (up to 4) and refine (default 1: off)")
    gen.add_argument("--hires-strength", type=float, default=0.5, metavar="S",
                     help="hires fix: how much the refining pass changes, 0-1 (default 0.5)")
    gen.add_argument("--hires-upscaler", default="latent", metavar="ID|latent",
                     help="hires fix: latent (default), or an installed upscaler model's id")
    gen.add_argument("--model", dest="model_id", default=None, help="installed diffusion model id (default: the default diffusion model)")
    gen.add_argument(
        "--format", dest="file_format", choices=("png", "jpeg", "webp"), default="png",
        help="file format (default png; jpeg/webp keep the settings as EXIF UserComment, as A1111 writes them)",
    )
    gen.add_argument("--json", action="store_true", help="print paths, seeds and seconds as JSON")
    gen.set_defaults(func=cmd_generate_image)

    upscale = sub.add_parser(
        "upscale",
        help="upscale pictures with an installed upscaler model (tiled; the copy keeps the settings, plus an Upscale entry)",
    )
    upscale.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    upscale.add_argument("--model", dest="model_id", default=None, help="installed upscaler id (default: the default upscaler)")
    upscale.add_argument("--scale", type=float, default=None, metavar="N",
                         help="how many times larger (default: the model's own scale; more takes further passes)")
    upscale.add_argument("--tile", type=int, default=None, metavar="N",
                         help="tile side in pixels (default 256 on a CPU, 512 on a GPU; halves by itself when memory runs out)")
    upscale.add_argument("--json", action="store_true", help="print paths, sizes and seconds as JSON")
    upscale.set_defaults(func=cmd_upscale)

    describe = sub.add_parser(
        "describe", help="describe pictures as prompts (CLIP ranks the bundled phrase banks; no other model)"
    )
    describe.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    describe.add_argument("--model", dest="model_id", default=None, help="installed CLIP model id (default: the library's)")
    describe.add_argument("--json", action="store_true", help="prompt, similarity and the top phrases with scores")
    describe.set_defaults(func=cmd_describe)

    helper = sub.add_parser(
        "prompt-help",
        help="translate an image prompt to English, or expand it, with the local language model",
        description="The model's reply streams to stderr as it is produced; the prompt to use is printed "
        "to stdout at the end. Expand follows the style of your best-scored prompts in the library.",
    )
    helper.add_argument("task", choices=("translate", "expand"))
    helper.add_argument("prompt")
    helper.add_argument("--model", dest="model_id", default=None, help="installed language model id "
                        "(default: the one recommended for prompts, else the default)")
    helper.add_argument("--temperature", type=float, default=None, help="default: 0 to translate, 0.7 to expand")
    helper.add_argument("--seed", type=int, default=None)
    helper.add_argument("--json", action="store_true", help="the prompt, the whole reply, model and examples as JSON")
    helper.set_defaults(func=cmd_prompt_help)

    info = sub.add_parser(
        "info",
        help="show the generation settings stored in images (ours, A1111, ComfyUI, InvokeAI, Fooocus, NovelAI)",
    )
    info.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    info.add_argument("--json", action="store_true", help="one JSON object per image, in a list")
    info.set_defaults(func=cmd_info)


def cmd_generate_image(args: argparse.Namespace, ctx: Any) -> int:
    from .clip_score import SCORE_GUIDE, ranked
    from .service import submit_images

    if args.best_of is not None:
        if args.best_of < 2:
            raise ValueError("--best-of needs at least 2 candidates")
        if ctx.registry.default("clip") is None:
            raise ValueError("--best-of ranks by CLIP score: install a CLIP model first (latent-studio models)")
    width = height = None
    if args.size:
        width, height = parse_size(args.size)
    request = ImageRequest(
        prompt=args.prompt,
        negative_prompt=args.negative,
        seed=args.seed,
        steps=args.steps,
        guidance=args.guidance,
        width=width,
        height=height,
        scheduler=args.scheduler,
        count=args.best_of or args.count,
        init_image=args.init_image,
        strength=args.strength,
        model_id=args.model_id,
        file_format=args.file_format,
        mask=args.mask,
        mask_blur=args.mask_blur,
        masked_only=args.masked_only,
        masked_padding=args.masked_padding,
        outpaint=parse_outpaint(args.outpaint) if args.outpaint else (0, 0, 0, 0),
        hires_scale=args.hires_scale,
        hires_strength=args.hires_strength,
        hires_upscaler=args.hires_upscaler,
    )
    started = time.perf_counter()
    handles = submit_images(ctx, request, on_event=ProgressBars(enabled=not args.json))

    def said(result: Any) -> None:
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr, flush=True)
        if not args.json and args.best_of is None:
            print(result.path, flush=True)

    results = _results_of(handles, "generation", said)
    if results is None:
        return 1
    _wait_for_library(results)
    if args.best_of is not None:
        results = ranked(results)
        print(SCORE_GUIDE, file=sys.stderr)
        if not args.json:
            for result in results:
                print(_line(result), flush=True)
    if args.json:
        print(json.dumps({
            "ranked": args.best_of is not None,
            "images": [r.to_json() for r in results],
            "paths": [str(r.path) for r in results],
            "seeds": [r.seed for r in results],
            "seconds": round(time.perf_counter() - started, 3),
        }, indent=2))
    return 0


def _results_of(handles: list, what: str, each: Callable[[Any], None]) -> Optional[list]:
    """Every job's result in order, `each` told of it as it comes; None (said) when one was
    cancelled. Jobs not done when this ends (Ctrl-C) are cancelled."""
    results: list = []
    try:
        for handle in handles:
            results.append(handle.result())
            each(results[-1])
    except Cancelled:
        print(f"error: {what} was cancelled", file=sys.stderr)
        return None
    finally:
        for handle in handles:
            if not handle.done():
                handle.cancel()
    return results


def cmd_upscale(args: argparse.Namespace, ctx: Any) -> int:
    from .service import submit_upscales
    from .upscale import UpscaleRequest

    started = time.perf_counter()
    requests = [UpscaleRequest(path, args.model_id, args.scale, args.tile) for path in args.images]
    handles = submit_upscales(ctx, requests, on_event=ProgressBars(enabled=not args.json))
    results = _results_of(handles, "upscaling", lambda r: None if args.json else print(r.path, flush=True))
    if results is None:
        return 1
    _wait_for_library(results)
    if args.json:
        print(json.dumps({
            "images": [r.to_json() for r in results],
            "paths": [str(r.path) for r in results],
            "seconds": round(time.perf_counter() - started, 3),
        }, indent=2))
    return 0


def cmd_describe(args: argparse.Namespace, ctx: Any) -> int:
    from .describe import submit_describe

    handle = submit_describe(ctx, args.images, args.model_id, on_event=ProgressBars(enabled=not args.json))
    descriptions = handle.result()
    if args.json:
        print(json.dumps([d.to_json() for d in descriptions], indent=2))
        return 0
    for description in descriptions:
        print(f"{description.path}\n  prompt: {description.prompt}")
        print(f"  similarity {description.similarity:.3f}, {description.tokens} tokens; top phrases:")
        for phrase in description.top[:8]:
            print(f"    {phrase.score:.3f}  {phrase.bank:12} {phrase.text}")
    return 0


def cmd_prompt_help(args: argparse.Namespace, ctx: Any) -> int:
    from .prompt_help import submit_prompt_help

    def stream(event: JobEvent) -> None:
        if event.kind is EventKind.PARTIAL and not args.json:
            sys.stderr.write(event.payload.text)
            sys.stderr.flush()

    handle = submit_prompt_help(ctx, args.task, args.prompt, stream, args.model_id, args.temperature, args.seed)
    try:
        handle.wait()
    except KeyboardInterrupt:
        handle.cancel()
        handle.wait()
    result = handle.result()
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(file=sys.stderr)
        print(result.prompt)
    return 130 if result.stopped else 0


def _line(result: Any) -> str:
    """A best-of line: the image's path, then its CLIP score (tab-separated, for scripts)."""
    return str(result.path) if result.clip_score is None else f"{result.path}\t{result.clip_score.value:.4f}"


def _wait_for_library(results: list[Any], timeout: Optional[float] = LIBRARY_WAIT_S) -> None:
    """Let the queued embedding of new images finish, so they are searchable once we exit."""
    for result in results:
        if result.library_job is not None:
            try:
                result.library_job.result(timeout)
            except (Exception, Cancelled):  # the next index run picks the image up
                pass


# The A1111 fields `info` prints as rows of their own (seed, steps…): not repeated among the extras.
SHOWN_FIELDS = frozenset({"steps", "sampler", "cfg scale", "seed", "size", "model", "model hash",
                          "denoising strength"})


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
        ("loras", "; ".join(addon_text(e) for e in meta.loras)),
        ("embeddings", "; ".join(addon_text(e) for e in meta.embeddings)),
    ]
    for name, value in rows:
        # Blank lines inside a value (ComfyUI prompts often end in newlines) are not printed.
        text_lines = [line.rstrip() for line in str(value if value is not None else "").strip().splitlines()]
        text = ("\n" + " " * 14).join(line for line in text_lines if line)
        if text:
            lines.append(f"  {name:11} {text}")
    for key, value in meta.extras.items():
        if key.lower() in SHOWN_FIELDS:
            continue  # already printed above under its own name
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
