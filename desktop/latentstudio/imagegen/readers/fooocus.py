"""Fooocus: with its own scheme, a JSON object in `parameters` (PNG) or EXIF UserComment (JPEG,
WebP), the scheme's name in a `fooocus_scheme` chunk / EXIF MakerNote; with the `a1111` scheme,
A1111's text (read by a1111.py, source "fooocus").

Keys used: prompt, negative_prompt, seed (text), steps, guidance_scale, resolution ("(w, h)"),
sampler / scheduler (ComfyUI's names), base_model, base_model_hash; the rest goes to extras.
"""

from __future__ import annotations

import re
from typing import Optional

from ..schedulers import from_comfyui
from .addons import fooocus_addons
from .values import (
    ImageMetadata,
    check_guidance,
    check_hash,
    check_name,
    check_seed,
    check_size,
    check_steps,
    check_text,
    extra_text,
    json_object,
)

RESOLUTION = re.compile(r"^\(\s*'?(\d+)'?\s*,\s*'?(\d+)'?\s*\)$")  # str((w, h)), from ints or strings
READ = {"prompt", "negative_prompt", "seed", "steps", "guidance_scale", "resolution", "sampler", "scheduler",
        "base_model", "base_model_hash", "full_prompt", "full_negative_prompt"}


def is_fooocus(data: dict) -> bool:
    return "guidance_scale" in data and ("base_model" in data or "performance" in data)


def parse_fooocus(text: str) -> Optional[ImageMetadata]:
    data = json_object(text)
    if data is None or not is_fooocus(data):
        return None
    meta = ImageMetadata(
        "fooocus",
        prompt=check_text(data.get("prompt")),
        negative_prompt=check_text(data.get("negative_prompt")),
        seed=check_seed(data.get("seed")),
        steps=check_steps(data.get("steps")),
        guidance=check_guidance(data.get("guidance_scale")),
        model=check_name(data.get("base_model")),
        model_hash=check_hash(data.get("base_model_hash")),
    )
    size = RESOLUTION.match(check_text(data.get("resolution"), 40).strip())
    if size:
        meta.width, meta.height = check_size(size.group(1)), check_size(size.group(2))
    sampler, scheduler = data.get("sampler"), data.get("scheduler")
    if isinstance(sampler, str):
        meta.scheduler = from_comfyui(sampler, scheduler if isinstance(scheduler, str) else "normal")
    meta.loras = fooocus_addons(data)
    for key, value in data.items():
        if (key not in READ or key in ("sampler", "scheduler")) and value not in (None, "", "None", []):
            meta.extras[str(key)[:80]] = extra_text(value)
    return meta
