"""Our own `latentstudio` JSON chunk: everything needed to reproduce the image."""

from __future__ import annotations

from typing import Optional

from ..clip_score import score_from_json
from ..schedulers import canonical_scheduler
from .addons import ours_addons
from .edits import ours_edits
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
    json_object,
)

OUR_FORMAT_VERSION = 1


def parse_ours(text: str) -> Optional[ImageMetadata]:
    data = json_object(text)
    if data is None:
        return None
    model = data.get("model") if isinstance(data.get("model"), dict) else {}
    meta = ImageMetadata(
        "latentstudio",
        prompt=check_text(data.get("prompt")),
        negative_prompt=check_text(data.get("negative_prompt")),
        seed=check_seed(data.get("seed")),
        steps=check_steps(data.get("steps")),
        guidance=check_guidance(data.get("guidance")),
        width=check_size(data.get("width")),
        height=check_size(data.get("height")),
        scheduler=canonical_scheduler(check_text(data.get("scheduler"))),
        strength=check_float(data.get("strength"), 0, 1) if data.get("img2img") else None,
        model=check_name(model.get("id")),
        model_hash=check_hash(model.get("hash")),
        clip_score=score_from_json(data.get("clip_score")),
    )
    meta.loras, meta.embeddings = ours_addons(data)
    ours_edits(meta, data)
    upscale = data.get("upscale") if isinstance(data.get("upscale"), dict) else {}
    scale, upscaler = check_float(upscale.get("scale"), 1, 64), check_name(upscale.get("model"))
    if scale is not None and upscaler:  # an upscaled copy: shown as A1111 names it in its parameters
        meta.extras.update({"Upscale": f"{scale:g}", "Upscaler": upscaler})
    return meta
