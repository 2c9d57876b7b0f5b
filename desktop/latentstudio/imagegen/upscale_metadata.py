"""The settings an upscaled picture carries: its source's, plus an `Upscale` entry.

The source's A1111 `parameters` text keeps every pair it had; a source whose settings were
written by another tool (ComfyUI, InvokeAI, NovelAI…) has them read by the readers and written
as A1111 parameters; our own JSON chunk is kept with an `upscale` record added. A picture with
no settings (a photo) gets parameters holding only the upscale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from .readers import OUR_KEY, PARAMETERS_KEY, read_reading
from .readers.a1111 import format_a1111, looks_like_a1111, parse_a1111_pairs
from .readers.values import ImageMetadata, json_object
from .schedulers import to_a1111

UPSCALE_KEY = "Upscale"  # the scale, as A1111's "Hires upscale" gives it
UPSCALER_KEY = "Upscaler"  # the model's id, as A1111's "Hires upscaler" gives it
VERSION = "Latent Studio"


@dataclass(frozen=True)
class UpscaledSettings:
    parameters: str  # A1111 text for the `parameters` chunk
    ours: Optional[dict[str, Any]]  # our JSON chunk, when the source had one
    prompt: str  # for the file name and the library
    seed: Optional[int]


def _pairs_from_metadata(meta: ImageMetadata) -> dict[str, Any]:
    """A1111 pairs for settings another tool wrote (only the fields every tool shares)."""
    sampler, schedule = to_a1111(meta.scheduler) if meta.scheduler else (None, None)
    return {
        "Steps": meta.steps,
        "Sampler": sampler,
        "Schedule type": schedule,
        "CFG scale": None if meta.guidance is None else f"{meta.guidance:g}",
        "Seed": meta.seed,
        "Size": f"{meta.width}x{meta.height}" if meta.width and meta.height else None,
        "Model hash": meta.model_hash,
        "Model": meta.model,
        "Denoising strength": None if meta.strength is None else f"{meta.strength:g}",
    }


def upscaled_settings(source: Path, model_id: str, scale: float) -> UpscaledSettings:
    """What to write into the upscaled copy of `source`."""
    reading = read_reading(source)
    meta = reading.metadata
    text = reading.fields.get(PARAMETERS_KEY, "")
    if text.strip() and looks_like_a1111(text):
        prompt, negative, pairs = parse_a1111_pairs(text)
        params: dict[str, Any] = dict(pairs)
    elif meta is not None:
        prompt, negative, params = meta.prompt, meta.negative_prompt, _pairs_from_metadata(meta)
    else:
        prompt, negative, params = "", "", {}
    version = params.pop("Version", VERSION)  # A1111 writes Version last
    params[UPSCALE_KEY] = f"{scale:g}"
    params[UPSCALER_KEY] = model_id
    params["Version"] = version
    ours = json_object(reading.fields[OUR_KEY]) if OUR_KEY in reading.fields else None
    if ours is not None:
        ours = {**ours, "upscale": {"model": model_id, "scale": scale}}
    return UpscaledSettings(
        format_a1111(prompt, negative, params), ours, prompt, None if meta is None else meta.seed
    )


def png_text(settings: UpscaledSettings) -> Any:
    """The PNG text chunks: `parameters`, and ours when the source had it."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(PARAMETERS_KEY, settings.parameters)
    if settings.ours is not None:
        info.add_text(OUR_KEY, json.dumps(settings.ours, ensure_ascii=False))
    return info
