"""NovelAI: PNG text `Software: NovelAI`, the prompt in `Description`, the model in `Source`,
and the settings as JSON in `Comment` (`uc` is the negative prompt, `scale` the guidance).
Version 4 models keep the prompts as captions in `v4_prompt` / `v4_negative_prompt`.
"""

from __future__ import annotations

from typing import Any, Optional

from ..schedulers import from_novelai
from .values import (
    ImageMetadata,
    check_float,
    check_guidance,
    check_name,
    check_seed,
    check_size,
    check_steps,
    check_text,
    extra_text,
    json_object,
)

EXTRAS = ("sampler", "noise_schedule", "cfg_rescale", "uncond_scale", "sm", "sm_dyn", "n_samples",
          "request_type", "version")


def _caption(value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("caption"), dict):
        return check_text(value["caption"].get("base_caption"))
    return ""


def parse_novelai(comment: str, description: str = "", source: str = "") -> Optional[ImageMetadata]:
    data = json_object(comment)
    if data is None or not ("scale" in data or "uc" in data or "sampler" in data):
        return None
    meta = ImageMetadata(
        "novelai",
        prompt=check_text(description) or check_text(data.get("prompt")) or _caption(data.get("v4_prompt")),
        negative_prompt=check_text(data.get("uc")) or _caption(data.get("v4_negative_prompt")),
        seed=check_seed(data.get("seed")),
        steps=check_steps(data.get("steps")),
        guidance=check_guidance(data.get("scale")),
        width=check_size(data.get("width")),
        height=check_size(data.get("height")),
        model=check_name(source),
    )
    sampler, schedule = data.get("sampler"), data.get("noise_schedule")
    if isinstance(sampler, str):
        meta.scheduler = from_novelai(sampler, schedule if isinstance(schedule, str) else None)
    if data.get("strength") is not None and data.get("image") is not None:
        meta.strength = check_float(data.get("strength"), 0, 1)
    for key in EXTRAS:
        if data.get(key) not in (None, ""):
            meta.extras[key] = extra_text(data[key])
    return meta
