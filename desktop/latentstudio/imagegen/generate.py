"""The generation job: one image per job, run on the inference thread.

Each step reports progress and a cheap preview and passes the engine's checkpoint, so a
cancel stops the work within one step and a waiting search runs in between steps.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..engine import JobContext, JobHandle
from ..models.registry import InstalledModel
from .adapters import Addons, embedding_hash, lora_hash, resolve_addons
from .clip_score import ClipScore, clip_score, scoring_model
from .edit_metadata import a1111_edit_pairs, ours_edit_record
from .hires import Upscale, hires_fix, model_upscaler
from .inpainting import inpaint, plan_inpaint, whole_picture
from .loading import LoadedPipeline, load_pipeline, pipeline_key
from .metadata import a1111_params, exif_user_comment, format_a1111, png_info
from .outputs import write_new_file
from .passes import derived, load_init_image, pass_kwargs, run_pass, step_callback
from .request import FILE_FORMATS, LATENT_UPSCALER, ImageSpec

if TYPE_CHECKING:
    from ..models import ModelRegistry

log = logging.getLogger(__name__)

JOB_KIND = "image"
A1111_HASH_DIGITS = 10  # A1111 (and Civitai's "AutoV2") name a checkpoint by its SHA-256's first 10 digits
__all__ = ["GeneratedImage", "Sampled", "generate_image", "load_init_image", "sample", "step_callback"]


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
    notes: list[str] = field(default_factory=list)  # e.g. that the mask was scaled to the init image

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
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Sampled:
    """What a generation's passes made: the picture, the size it was asked at (A1111's `Size`), notes."""

    image: Any
    width: int  # the size generated at: the first pass's for hires fix, the generated crop's for inpainting
    height: int
    notes: list[str] = field(default_factory=list)  # what was changed on the user's behalf, in words


def sample(
    job: JobContext,
    loaded: LoadedPipeline,
    spec: ImageSpec,
    addons: Optional[Addons] = None,
    upscale: Optional[Upscale] = None,
) -> Sampled:
    """Run the passes for one image: txt2img, img2img, inpainting/outpainting or hires fix.
    `upscale` is the upscaler model's function for a hires fix that names one."""
    request = spec.request
    addons = addons or Addons(request.prompt, request.negative_prompt)
    kwargs = pass_kwargs(job, loaded, request, addons, spec.seed)
    native = loaded.native_size
    if request.is_inpainting:
        plan = plan_inpaint(request, native)
        for note in plan.notes:
            job.progress(0, None, note)
        image = inpaint(job, loaded, plan, kwargs, request.strength, spec.seed)
        return Sampled(image, plan.width, plan.height, plan.notes)
    if spec.is_img2img:
        assert request.init_image is not None
        init = load_init_image(request.init_image, request.width, request.height, native)
        width, height = init.size
        if loaded.inpainting:
            return Sampled(whole_picture(job, loaded, kwargs, init, request.strength, spec.seed, width, height),
                           width, height)
        arguments = {**kwargs, "image": init, "strength": request.strength}
        return Sampled(run_pass(job, loaded, derived(loaded, "img2img"), arguments, spec.seed, width, height),
                       width, height)
    width, height = request.width or native, request.height or native
    if request.is_hires:
        image, _, _ = hires_fix(job, loaded, request, kwargs, spec.seed, width, height, upscale)
        return Sampled(image, width, height)
    if loaded.inpainting:
        return Sampled(whole_picture(job, loaded, kwargs, None, 1.0, spec.seed, width, height), width, height)
    arguments = {**kwargs, "width": width, "height": height}
    return Sampled(run_pass(job, loaded, loaded.pipe, arguments, spec.seed, width, height), width, height)


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
    image_size: Optional[tuple[int, int]] = None,
) -> tuple[str, dict[str, Any]]:
    """(A1111 `parameters` text, our JSON) for one generated image. `width` x `height` is the size
    it was generated at (A1111's `Size`; hires fix's first pass), `image_size` the file's when it
    differs (hires fix, inpainting at the init image's own size). The prompt keeps its
    `<lora:…>` tags; `loras`/`embeddings` ({"name", "hash", …}) become A1111's `Lora hashes` and
    `TI hashes`, so another tool (or Reuse settings) can find the same files."""
    request = spec.request
    strength = request.strength if spec.is_img2img else request.hires_strength if request.is_hires else None
    short_hash = model_sha256[:A1111_HASH_DIGITS] if model_sha256 else None  # A1111's "Model hash"
    params = a1111_params(
        request.steps, request.scheduler, request.guidance, spec.seed, width, height, model.id, strength, short_hash
    )
    version = params.pop("Version")
    params.update(a1111_edit_pairs(request))
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
        **ours_edit_record(request, image_size),
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

    upscale = None
    if request.is_hires and request.hires_upscaler != LATENT_UPSCALER:
        upscale = model_upscaler(job, registry, request.hires_upscaler, request.hires_scale)
    with job.models.use(pipeline_key(model), loader) as loaded:
        job.checkpoint()
        started = time.perf_counter()
        sampled = sample(job, loaded, spec, addons, upscale)
        seconds = time.perf_counter() - started
        variant = loaded.variant
    image, width, height = sampled.image, sampled.width, sampled.height
    score, score_seconds = score_generated(job, registry, image, request.prompt)
    if model.path.is_file() and model.file_sha256 is None:
        job.progress(0, None, f"hashing {model.id} (once, for the image's Model hash)")
    model_sha256 = registry.file_sha256(model, job.checkpoint)
    loras, embeddings = addon_records(registry, addons)
    parameters, ours = metadata_for(
        spec, model, variant, width, height, seconds, model_sha256, score, loras, embeddings, image.size
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
        path, spec.seed, seconds, image.width, image.height, model.id, request.steps, library_job, score,
        score_seconds, loras, embeddings, sampled.notes,
    )


def addon_records(registry: "ModelRegistry", addons: Addons) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The LoRAs (name, weights, short hash) and embeddings (name, short hash) an image used."""
    loras = [
        {"name": c.model.id, "te_weight": c.tag.te_weight, "unet_weight": c.tag.unet_weight, "hash": lora_hash(c.model)}
        for c in addons.loras
    ]
    embeddings = [{"name": m.id, "hash": embedding_hash(registry, m)} for m in addons.embeddings]
    return loras, embeddings
