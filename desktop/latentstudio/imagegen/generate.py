"""The generation job: one image per job, run on the inference thread.

Each step reports progress and a cheap preview and passes the engine's checkpoint, so a
cancel stops the work within one step and a waiting search runs in between steps.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..engine import JobContext, JobHandle
from ..models.registry import InstalledModel
from .adapters import Addons, apply_loras, embedding_hash, embeddings_for, lora_hash, resolve_addons
from .clip_score import ClipScore, clip_score, scoring_model
from .loading import LoadedPipeline, configure_for_size, load_pipeline, pipeline_key
from .metadata import a1111_params, exif_user_comment, format_a1111, png_info
from .outputs import write_new_file
from .preview import StepPreview, latents_to_rgb
from .prompt_encoding import encode_prompts
from .request import FILE_FORMATS, ImageSpec
from .schedulers import make_scheduler

if TYPE_CHECKING:
    from ..models import ModelRegistry

log = logging.getLogger(__name__)

JOB_KIND = "image"
A1111_HASH_DIGITS = 10  # A1111 (and Civitai's "AutoV2") name a checkpoint by its SHA-256's first 10 digits
MAX_INIT_PIXELS = 64 * 2**20  # decompression-bomb guard for init images


@dataclass(frozen=True)
class GeneratedImage:
    path: Path
    seed: int
    seconds: float  # sampling and decoding, without model loading
    width: int
    height: int
    model_id: str
    steps_run: int
    library_job: Optional[JobHandle] = field(default=None, compare=False, repr=False)
    clip_score: Optional[ClipScore] = None  # None when no CLIP model is installed
    score_seconds: float = 0.0  # time spent scoring (model load included)
    loras: list[dict[str, Any]] = field(default_factory=list)  # {"name", "te_weight", "unet_weight", "hash"}
    embeddings: list[dict[str, Any]] = field(default_factory=list)  # {"name", "hash"}

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "width": self.width,
            "height": self.height,
            "model": self.model_id,
            "steps": self.steps_run,
            "clip_score": None if self.clip_score is None else round(self.clip_score.value, 4),
            "clip_model": None if self.clip_score is None else self.clip_score.model_id,
            "score_seconds": round(self.score_seconds, 3),
            "loras": list(self.loras),
            "embeddings": list(self.embeddings),
        }


def load_init_image(path: Path, width: Optional[int], height: Optional[int], native: int = 512) -> Any:
    """The init image as RGB at the requested size.

    Without a requested size: its own, rounded down to a multiple of 8, and scaled down to at
    most (2 x native)² pixels, so a camera photo does not become a 24-megapixel generation.
    """
    from PIL import Image, ImageOps

    from ..image_formats import register_heif

    register_heif()  # the dialog offers every type the library reads, phones' HEIC included
    try:
        with Image.open(path) as opened:
            if opened.width * opened.height > MAX_INIT_PIXELS:
                raise ValueError(f"init image {path.name} is too large ({opened.width}x{opened.height})")
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"init image {path.name} cannot be read ({exc})") from exc
    scale = min(1.0, (2 * native) / math.sqrt(image.width * image.height))
    width = width or max(64, int(image.width * scale) // 8 * 8)
    height = height or max(64, int(image.height * scale) // 8 * 8)
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return image


def step_callback(job: JobContext, variant: str, seed: int) -> Callable[..., dict[str, Any]]:
    """diffusers' callback_on_step_end: progress, a preview, then the engine checkpoint (cancel)."""

    def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        total = int(getattr(pipe, "num_timesteps", 0) or 0)
        done = step + 1
        job.progress(done, total or None, f"step {done}/{total}")
        job.preview(StepPreview(done, total, latents_to_rgb(tensors["latents"], variant), seed))
        job.checkpoint()  # raises Cancelled: the pipeline stops here, mid-loop
        return tensors

    return on_step_end


def sample(
    job: JobContext, loaded: LoadedPipeline, spec: ImageSpec, addons: Optional[Addons] = None
) -> tuple[Any, int, int]:
    """Run the pipeline for one image; returns (PIL image, width, height).

    The prompts are encoded here, as A1111 does (weights, 75-token chunks, embeddings), with the
    request's LoRAs switched on first so their text-encoder part takes effect."""
    import torch

    request = spec.request
    addons = addons or Addons(request.prompt, request.negative_prompt)
    apply_loras(loaded, addons.loras)
    embeddings = embeddings_for(loaded, addons.embeddings)
    scheduler = make_scheduler(request.scheduler, loaded.base_scheduler_config, request.steps)
    kwargs: dict[str, Any] = {
        "num_inference_steps": request.steps,
        "guidance_scale": request.guidance,
        "callback_on_step_end": step_callback(job, loaded.variant, spec.seed),
        "callback_on_step_end_tensor_inputs": ["latents"],
        "output_type": "pil",
    }
    if spec.is_img2img:
        from diffusers import AutoPipelineForImage2Image

        assert request.init_image is not None
        init = load_init_image(request.init_image, request.width, request.height, loaded.native_size)
        width, height = init.size
        pipe = AutoPipelineForImage2Image.from_pipe(loaded.pipe, scheduler=scheduler)
        pipe.set_progress_bar_config(disable=True)
        kwargs.update(image=init, strength=request.strength)
    else:
        width = request.width or loaded.native_size
        height = request.height or loaded.native_size
        pipe = loaded.pipe
        pipe.scheduler = scheduler
        kwargs.update(width=width, height=height)
    configure_for_size(loaded, width, height, job.device)
    with torch.inference_mode():
        kwargs.update(encode_prompts(loaded.pipe, addons.prompt, addons.negative_prompt, embeddings))

    def attempt() -> Any:
        # A fresh CPU generator per attempt: one seed gives one image on every device.
        kwargs["generator"] = torch.Generator("cpu").manual_seed(spec.seed)
        with torch.inference_mode():
            return pipe(**kwargs).images[0]

    image = job.models.call_with_oom_retry(attempt, what=f"generate a {width}x{height} image")
    return image, width, height


def metadata_for(
    spec: ImageSpec,
    model: InstalledModel,
    variant: str,
    width: int,
    height: int,
    seconds: float,
    model_sha256: Optional[str] = None,
    score: Optional[ClipScore] = None,
    loras: Optional[list[dict[str, Any]]] = None,
    embeddings: Optional[list[dict[str, Any]]] = None,
) -> tuple[str, dict[str, Any]]:
    """(A1111 `parameters` text, our JSON) for one generated image. The prompt keeps its
    `<lora:…>` tags; `loras`/`embeddings` ({"name", "hash", …}) become A1111's `Lora hashes` and
    `TI hashes`, so another tool (or Reuse settings) can find the same files."""
    request = spec.request
    strength = request.strength if spec.is_img2img else None
    short_hash = model_sha256[:A1111_HASH_DIGITS] if model_sha256 else None  # A1111's "Model hash"
    params = a1111_params(
        request.steps, request.scheduler, request.guidance, spec.seed, width, height, model.id, strength, short_hash
    )
    version = params.pop("Version")
    if loras:
        params["Lora hashes"] = ", ".join(f"{item['name']}: {item['hash']}" for item in loras)
    if embeddings:
        params["TI hashes"] = ", ".join(f"{item['name']}: {item['hash']}" for item in embeddings)
    params["Version"] = version
    parameters = format_a1111(request.prompt, request.negative_prompt, params)
    ours = {
        "format": 1,
        "app": "Latent Studio",
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "seed": spec.seed,
        "steps": request.steps,
        "guidance": request.guidance,
        "width": width,
        "height": height,
        "scheduler": request.scheduler,
        "img2img": spec.is_img2img,
        "strength": strength,
        "init_image": request.init_image.name if request.init_image else None,
        "model": {"id": model.id, "format": model.format, "variant": variant, "hash": short_hash},
        "loras": list(loras or []),
        "embeddings": list(embeddings or []),
        "seconds": round(seconds, 3),
        "clip_score": None if score is None else score.to_json(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return parameters, ours


def save_image(image: Any, target: Path, file_format: str, parameters: str, ours: dict[str, Any]) -> None:
    """PNG with both text chunks; JPEG/WebP with the A1111 text as EXIF UserComment, as A1111 does."""
    if file_format == "png":
        image.save(target, format="PNG", pnginfo=png_info(parameters, ours))
    else:
        image.save(target, format=file_format.upper(), quality=95, exif=exif_user_comment(parameters))


def score_generated(
    job: JobContext, registry: "ModelRegistry", image: Any, prompt: str
) -> tuple[Optional[ClipScore], float]:
    """(CLIP score, seconds) for a new image; no score without a CLIP model or when scoring fails."""
    installed = scoring_model(registry)
    if installed is None:
        return None, 0.0
    started = time.perf_counter()
    try:
        score: Optional[ClipScore] = clip_score(job, installed, image, prompt)
    except Exception:  # the image is worth keeping without its score (Cancelled is no Exception)
        log.exception("could not score the image with %s", installed.id)
        score = None
    return score, time.perf_counter() - started


# Hands a saved image to the library: (path, prompt, score) → its embedding job, if one was queued.
KeepImage = Callable[[Path, str, Optional[ClipScore]], Optional[JobHandle]]


def generate_image(
    job: JobContext,
    registry: "ModelRegistry",
    outputs: Path,
    keep: KeepImage,
    spec: ImageSpec,
    config_dir: Optional[Path] = None,
) -> GeneratedImage:
    """The job function: load (or reuse) the pipeline, sample, write the PNG, hand it to the library."""
    request = spec.request
    model = registry.resolve("diffusion", request.model_id)
    addons = resolve_addons(registry, request.prompt, request.negative_prompt)
    job.progress(0, None, f"loading {model.id}")
    budget = job.models.budget_bytes

    def loader() -> LoadedPipeline:
        return load_pipeline(model, job.device, budget, config_dir)

    with job.models.use(pipeline_key(model), loader) as loaded:
        job.checkpoint()
        started = time.perf_counter()
        image, width, height = sample(job, loaded, spec, addons)
        seconds = time.perf_counter() - started
        variant = loaded.variant
    score, score_seconds = score_generated(job, registry, image, request.prompt)
    if model.path.is_file() and model.file_sha256 is None:
        job.progress(0, None, f"hashing {model.id} (once, for the image's Model hash)")
    model_sha256 = registry.file_sha256(model, job.checkpoint)
    loras, embeddings = addon_records(registry, addons)
    parameters, ours = metadata_for(
        spec, model, variant, width, height, seconds, model_sha256, score, loras, embeddings
    )
    path = write_new_file(
        outputs,
        spec.seed,
        request.prompt,
        lambda target: save_image(image, target, request.file_format, parameters, ours),
        suffix=FILE_FORMATS[request.file_format],
    )
    library_job = keep(path, request.prompt, score)
    return GeneratedImage(
        path, spec.seed, seconds, width, height, model.id, request.steps, library_job, score, score_seconds,
        loras, embeddings,
    )


def addon_records(registry: "ModelRegistry", addons: Addons) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The LoRAs (name, weights, short hash) and embeddings (name, short hash) an image used."""
    loras = [
        {"name": c.model.id, "te_weight": c.tag.te_weight, "unet_weight": c.tag.unet_weight, "hash": lora_hash(c.model)}
        for c in addons.loras
    ]
    embeddings = [{"name": m.id, "hash": embedding_hash(registry, m)} for m in addons.embeddings]
    return loras, embeddings
