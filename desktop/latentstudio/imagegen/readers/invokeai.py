"""InvokeAI, three generations of it.

- 3.x and later: an `invokeai_metadata` JSON chunk (`positive_prompt`, `cfg_scale`, `model: {name, hash…}`).
- 2.x: an `sd-metadata` JSON chunk (`model_id`, `model_hash`, `image: {prompt: [{prompt, weight}],
  steps, cfg_scale, seed, width, height, sampler, strength…}`), beside a `Dream` line.
- 1.x (the `dream` command line): a `Dream` chunk, `"a cat [blurry]" -s 50 -S 42 -W 512 -H 512
  -C 7.5 -A k_lms`, split like a shell would split it (never run). In 1.x and 2.x the negative
  prompt is the `[bracketed]` part of the prompt.
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Optional

from ..schedulers import INVOKEAI_LEGACY_SAMPLERS, INVOKEAI_SCHEDULERS
from .addons import invokeai_addons
from .values import (
    ImageMetadata,
    check_float,
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

BRACKETED = re.compile(r"\[([^\[\]]*)\]")
DREAM_FLAGS = {  # short and long spellings of the `dream` switches we read
    "-s": "steps", "--steps": "steps",
    "-S": "seed", "--seed": "seed",
    "-W": "width", "--width": "width",
    "-H": "height", "--height": "height",
    "-C": "cfg_scale", "--cfg_scale": "cfg_scale",
    "-A": "sampler", "--sampler": "sampler",
    "-f": "strength", "--strength": "strength",
    "-I": "init_img", "--init_img": "init_img",
}


def split_negative(prompt: str) -> tuple[str, str]:
    """InvokeAI 1.x/2.x: `a cat [blurry, lowres]` → ("a cat", "blurry, lowres")."""
    negative = ", ".join(part.strip() for part in BRACKETED.findall(prompt) if part.strip())
    positive = " ".join(BRACKETED.sub(" ", prompt).split())
    return positive, negative


def parse_invokeai(text: str) -> Optional[ImageMetadata]:
    data = json_object(text)
    if data is None:
        return None
    model = data.get("model")
    scheduler = data.get("scheduler")
    meta = ImageMetadata(
        "invokeai",
        prompt=check_text(data.get("positive_prompt")),
        negative_prompt=check_text(data.get("negative_prompt")),
        seed=check_seed(data.get("seed")),
        steps=check_steps(data.get("steps")),
        guidance=check_guidance(data.get("cfg_scale")),
        width=check_size(data.get("width")),
        height=check_size(data.get("height")),
        scheduler=INVOKEAI_SCHEDULERS.get(scheduler) if isinstance(scheduler, str) else None,
        strength=check_float(data.get("strength"), 0, 1) if data.get("generation_mode", "").endswith("img2img") else None,
    )
    if isinstance(model, dict):
        meta.model = check_name(model.get("name"))
        meta.model_hash = check_hash(str(model.get("hash", "")).split(":")[-1])  # "blake3:…" / "sha256:…"
    else:
        meta.model = check_name(model)
    meta.loras = invokeai_addons(data)
    for key in ("scheduler", "generation_mode", "app_version", "clip_skip", "cfg_rescale_multiplier",
                "positive_style_prompt", "negative_style_prompt", "loras", "vae"):
        if data.get(key) not in (None, "", []):
            meta.extras[key] = extra_text(data[key])
    return meta


def _joined_prompt(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # [{"prompt": "…", "weight": 1.0}, …]
        parts = [item.get("prompt") for item in value if isinstance(item, dict)]
        return " ".join(part for part in parts if isinstance(part, str))
    return ""


def _legacy(meta: ImageMetadata, values: dict[str, Any]) -> ImageMetadata:
    """Fill the settings shared by `sd-metadata` and `Dream` from raw values."""
    meta.prompt, meta.negative_prompt = split_negative(check_text(_joined_prompt(values.get("prompt"))))
    meta.steps = check_steps(values.get("steps"))
    meta.seed = check_seed(values.get("seed"))
    meta.guidance = check_guidance(values.get("cfg_scale"))
    meta.width, meta.height = check_size(values.get("width")), check_size(values.get("height"))
    sampler = values.get("sampler")
    if isinstance(sampler, str):
        meta.scheduler = INVOKEAI_LEGACY_SAMPLERS.get(sampler)
        meta.extras["sampler"] = extra_text(sampler)
    if values.get("type") == "img2img" or values.get("init_img"):
        meta.strength = check_float(values.get("strength", values.get("strength_steps")), 0, 1)
    return meta


def parse_sd_metadata(text: str) -> Optional[ImageMetadata]:
    data = json_object(text)
    if data is None or not isinstance(data.get("image"), dict):
        return None
    meta = _legacy(ImageMetadata("invokeai"), data["image"])
    meta.model = check_name(data.get("model_id")) or check_name(data.get("model_weights"))
    meta.model_hash = check_hash(data.get("model_hash"))
    for key in ("app_version", "type", "variations", "postprocessing"):
        if data.get(key) not in (None, "", []) or data["image"].get(key) not in (None, "", []):
            meta.extras[key] = extra_text(data.get(key, data["image"].get(key)))
    return meta


def parse_dream(text: str) -> Optional[ImageMetadata]:
    if not isinstance(text, str) or not text.lstrip().startswith('"'):
        return None
    try:
        words = shlex.split(text[:20_000])
    except ValueError:  # unbalanced quotes
        return None
    if not words:
        return None
    values: dict[str, Any] = {"prompt": words[0]}
    for flag, value in zip(words[1:], words[2:]):
        if flag in DREAM_FLAGS:
            values[DREAM_FLAGS[flag]] = value
    if values.pop("init_img", None):  # only its presence matters: the path is never opened
        values["type"] = "img2img"
    return _legacy(ImageMetadata("invokeai"), values)
