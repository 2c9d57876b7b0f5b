"""Hires fix, as A1111's: generate at the model's size, upscale, refine with img2img at a strength.

"Latent" interpolates the first pass's latents (bilinear, as A1111's "Latent"), so the picture is
decoded only once; an upscaler model upscales the decoded picture through the tiled upscale code.
Both passes and the upscale run in one job on the inference thread: one preview stream, one Cancel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from ..engine import JobContext
from .loading import LoadedPipeline
from .passes import derived, run_pass, step_callback
from .request import LATENT_UPSCALER, MAX_SIZE, ImageRequest

if TYPE_CHECKING:
    from ..models import ModelRegistry

# (the first pass's picture, width, height) -> the picture upscaled to exactly width x height
Upscale = Callable[[Any, int, int], Any]
LATENT_NAME = "Latent"  # A1111's name for latent upscaling in `Hires upscaler`


def hires_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The second pass's size: `scale` times the first's, to the nearest multiple of 8."""
    size = (max(8, round(width * scale / 8) * 8), max(8, round(height * scale / 8) * 8))
    if max(size) > MAX_SIZE:
        raise ValueError(f"hires fix at {scale:g}x would be {size[0]}x{size[1]} pixels; at most {MAX_SIZE} "
                         "a side: choose a smaller hires scale or size")
    return size


def model_upscaler(job: JobContext, registry: "ModelRegistry", model_id: str, scale: float) -> Upscale:
    """Upscale with an installed upscaler model, tiled, on this job's thread (its tiles preview and
    pass the checkpoint like steps do)."""
    import numpy as np
    from PIL import Image

    from ..models.upscalers import UPSCALER_KIND
    from .upscale import default_tile, load_for, upscale_array, upscaler_key

    model = registry.resolve(UPSCALER_KIND, model_id)

    def upscale(picture: Any, width: int, height: int) -> Any:
        job.progress(0, None, f"hires fix: upscaling with {model.id}")
        with job.models.use(upscaler_key(model), lambda: load_for(model, job.device)) as loaded:
            array, _, _ = upscale_array(job, loaded, np.asarray(picture), scale, default_tile(job.device.kind))
        result = Image.fromarray(array)
        return result if result.size == (width, height) else result.resize((width, height), Image.Resampling.LANCZOS)

    return upscale


def hires_fix(
    job: JobContext, loaded: LoadedPipeline, request: ImageRequest, kwargs: dict[str, Any], seed: int,
    width: int, height: int, upscale: Optional[Upscale],
) -> tuple[Any, int, int]:
    """(the refined picture, its width, height); `upscale` None means latent upscaling."""
    import torch
    import torch.nn.functional as F

    target_w, target_h = hires_size(width, height, request.hires_scale)
    latent = request.hires_upscaler == LATENT_UPSCALER
    first = run_pass(job, loaded, loaded.pipe,
                     {**kwargs, "width": width, "height": height, "output_type": "latent" if latent else "pil"},
                     seed, width, height)
    if latent:
        factor = int(loaded.pipe.vae_scale_factor)
        with torch.inference_mode():
            start: Any = F.interpolate(first[None], size=(target_h // factor, target_w // factor), mode="bilinear")
    else:
        assert upscale is not None, "an upscaler model's hires fix needs its upscale function"
        start = upscale(first, target_w, target_h)
    job.checkpoint()
    refine = {**kwargs, "image": start, "strength": request.hires_strength,
              "callback_on_step_end": step_callback(job, loaded.variant, seed, "hires step")}
    picture = run_pass(job, loaded, derived(loaded, "img2img"), refine, seed, target_w, target_h)
    return picture, target_w, target_h


def upscaler_label(request: ImageRequest) -> str:
    """The `Hires upscaler` value: A1111's "Latent", or the upscaler model's id."""
    return LATENT_NAME if request.hires_upscaler == LATENT_UPSCALER else request.hires_upscaler
