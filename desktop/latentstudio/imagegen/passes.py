"""One diffusion pass, as every kind of generation runs it: txt2img, img2img, inpainting and both
passes of hires fix share the prompt encoding, the scheduler, the step callback and the call."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Optional

from ..engine import JobContext
from .adapters import Addons, apply_loras, embeddings_for
from .loading import LoadedPipeline, configure_for_size
from .preview import StepPreview, latents_to_rgb
from .prompt_encoding import encode_prompts
from .request import ImageRequest
from .schedulers import make_scheduler

MAX_INIT_PIXELS = 64 * 2**20  # decompression-bomb guard for init images


def read_init_image(path: Path) -> Any:
    """The init image as RGB, upright, at its own size."""
    from PIL import Image, ImageOps

    from ..image_formats import register_heif

    register_heif()  # the dialog offers every type the library reads, phones' HEIC included
    try:
        with Image.open(path) as opened:
            if opened.width * opened.height > MAX_INIT_PIXELS:
                raise ValueError(f"init image {path.name} is too large ({opened.width}x{opened.height})")
            return ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"init image {path.name} cannot be read ({exc})") from exc


def generation_size(size: tuple[int, int], width: Optional[int], height: Optional[int], native: int) -> tuple[int, int]:
    """The size a picture of `size` is generated at: the request's, else its own rounded down to a
    multiple of 8 and scaled down to at most (2 x native)² pixels, so a camera photo does not
    become a 24-megapixel generation."""
    scale = min(1.0, (2 * native) / math.sqrt(size[0] * size[1]))
    return (width or max(64, int(size[0] * scale) // 8 * 8), height or max(64, int(size[1] * scale) // 8 * 8))


def load_init_image(path: Path, width: Optional[int], height: Optional[int], native: int = 512) -> Any:
    """The init image as RGB at the size it is generated at (see generation_size)."""
    from PIL import Image

    image = read_init_image(path)
    size = generation_size(image.size, width, height, native)
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)


def step_callback(job: JobContext, variant: str, seed: int, label: str = "step") -> Callable[..., dict[str, Any]]:
    """diffusers' callback_on_step_end: progress, a preview, then the engine checkpoint (cancel)."""

    def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        total = int(getattr(pipe, "num_timesteps", 0) or 0)
        done = step + 1
        job.progress(done, total or None, f"{label} {done}/{total}")
        job.preview(StepPreview(done, total, latents_to_rgb(tensors["latents"], variant), seed))
        job.checkpoint()  # raises Cancelled: the pipeline stops here, mid-loop
        return tensors

    return on_step_end


def pass_kwargs(
    job: JobContext, loaded: LoadedPipeline, request: ImageRequest, addons: Addons, seed: int, label: str = "step"
) -> dict[str, Any]:
    """The pipeline arguments every pass shares, prompts encoded as A1111 does (weights, 75-token
    chunks, embeddings) with the request's LoRAs switched on first, so their text-encoder part
    takes effect. Sets the request's scheduler on `loaded.pipe`; a pass made with from_pipe gets
    the same scheduler object."""
    import torch

    apply_loras(loaded, addons.loras)
    embeddings = embeddings_for(loaded, addons.embeddings)
    loaded.pipe.scheduler = make_scheduler(request.scheduler, loaded.base_scheduler_config, request.steps)
    kwargs: dict[str, Any] = {
        "num_inference_steps": request.steps,
        "guidance_scale": request.guidance,
        "callback_on_step_end": step_callback(job, loaded.variant, seed, label),
        "callback_on_step_end_tensor_inputs": ["latents"],
        "output_type": "pil",
    }
    with torch.inference_mode():
        kwargs.update(encode_prompts(loaded.pipe, addons.prompt, addons.negative_prompt, embeddings))
    return kwargs


def run_pass(job: JobContext, loaded: LoadedPipeline, pipe: Any, kwargs: dict[str, Any], seed: int,
             width: int, height: int) -> Any:
    """Call `pipe` at width x height; returns its first output (a picture, or latents)."""
    import torch

    configure_for_size(loaded, width, height, job.device)

    def attempt() -> Any:
        # A fresh CPU generator per attempt: one seed gives one image on every device.
        kwargs["generator"] = torch.Generator("cpu").manual_seed(seed)
        with torch.inference_mode():
            return pipe(**kwargs).images[0]

    return job.models.call_with_oom_retry(attempt, what=f"generate a {width}x{height} image")


def derived(loaded: LoadedPipeline, kind: str) -> Any:
    """The loaded pipeline's components as an "img2img" or "inpaint" pipeline (diffusers' from_pipe:
    the same module objects, no second copy of the weights), made once and kept with it."""
    pipe = loaded.derived.get(kind)
    if pipe is None:
        from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

        auto: Any = AutoPipelineForInpainting if kind == "inpaint" else AutoPipelineForImage2Image
        pipe = auto.from_pipe(loaded.pipe)
        pipe.set_progress_bar_config(disable=True)
        loaded.derived[kind] = pipe
    pipe.scheduler = loaded.pipe.scheduler
    return pipe
