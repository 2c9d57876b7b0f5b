"""Image generation's entry points for the CLI and the pages: one FOREGROUND job per image (or per
picture to upscale), each image handed to the library when it is saved."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..engine import JobHandle, Priority
from ..engine.jobs import EventCallback
from .clip_score import ClipScore
from .adapters import check_family, resolve_addons
from .generate import JOB_KIND, generate_image
from .loading import INPAINTING_CHANNELS, unet_in_channels, variant_of
from .request import LATENT_UPSCALER, ImageRequest, ImageSpec
from .upscale import JOB_KIND as UPSCALE_JOB_KIND, UpscaleRequest, upscale_image

if TYPE_CHECKING:
    from ..context import AppContext

log = logging.getLogger(__name__)


def add_to_library(
    ctx: "AppContext", path: Path, prompt: str, score: Optional[ClipScore] = None
) -> Optional[JobHandle]:
    """Record the image in the library (and queue its embedding when a CLIP model is installed)."""
    try:
        from ..library import add_generated_image
    except ImportError:
        log.info("the library is not available; %s is not indexed", path)
        return None
    try:
        return add_generated_image(ctx, path, prompt, None if score is None else (score.value, score.model_id))
    except Exception:  # the image is saved either way; indexing can happen on the next scan
        log.exception("could not add %s to the library", path)
        return None


def job_name(spec: ImageSpec) -> str:
    request = spec.request
    prompt = " ".join(request.prompt.split())
    short = prompt if len(prompt) <= 40 else prompt[:39] + "…"
    size = f" · {request.width}×{request.height}" if request.width and request.height else ""
    what = "Outpaint" if any(request.outpaint) else "Inpaint" if request.mask else "Image"
    hires = f" · hires {request.hires_scale:g}×" if request.is_hires else ""
    return f"{what}: {short or '(no prompt)'} · seed {spec.seed}{size} · {request.steps} steps{hires}"


def check_hires(ctx: "AppContext", request: ImageRequest, model_id: str, in_channels: int) -> None:
    """Refuse now, not once queued, a hires fix the model or the named upscaler cannot do."""
    if not request.is_hires:
        return
    if in_channels == INPAINTING_CHANNELS:
        raise ValueError(f"{model_id} is an inpainting model: hires fix needs an ordinary model")
    if request.hires_upscaler != LATENT_UPSCALER:
        from ..models.upscalers import UPSCALER_KIND

        try:
            ctx.registry.resolve(UPSCALER_KIND, request.hires_upscaler)
        except (LookupError, ValueError) as exc:
            raise ValueError(
                f"hires upscaler {request.hires_upscaler!r}: {exc.args[0] if exc.args else exc}; use \"latent\" or an installed upscaler's id"
            ) from exc


def submit_images(
    ctx: "AppContext",
    request: ImageRequest,
    on_event: Optional[EventCallback] = None,
    config_dir: Optional[Path] = None,
) -> list[JobHandle]:
    """Validate and queue one FOREGROUND job per image; each handle's result is a GeneratedImage."""
    def keep(path: Path, prompt: str, score: Optional[ClipScore]) -> Optional[JobHandle]:
        return add_to_library(ctx, path, prompt, score)

    request = request.validated()
    model = ctx.registry.resolve("diffusion", request.model_id)  # a missing model fails now, not queued
    addons = resolve_addons(ctx.registry, request.prompt, request.negative_prompt)  # so does a missing LoRA
    variant = variant_of(model)
    for addon in [c.model for c in addons.loras] + addons.embeddings:
        check_family(addon, variant, model.id)  # and one made for another family
    check_hires(ctx, request, model.id, unet_in_channels(model))  # and an upscaler that is not installed
    handles = []
    for spec in request.images():
        handles.append(
            ctx.engine.submit(
                lambda job, spec=spec: generate_image(job, ctx.registry, ctx.paths.outputs, keep, spec, config_dir),
                priority=Priority.FOREGROUND,
                name=job_name(spec),
                kind=JOB_KIND,
                on_event=on_event,
                memory_bytes=model.size_bytes,
            )
        )
    return handles


def submit_upscales(
    ctx: "AppContext", requests: list[UpscaleRequest], on_event: Optional[EventCallback] = None
) -> list[JobHandle]:
    """Validate and queue one FOREGROUND job per picture; each handle's result is an UpscaledImage."""
    requests = [r.validated() for r in requests]
    handles = []
    for request in requests:
        model = ctx.registry.resolve("upscaler", request.model_id)  # a missing model fails now, not queued
        scale = f"{request.scale:g}x" if request.scale else model.variant or ""
        handles.append(
            ctx.engine.submit(
                lambda job, request=request: upscale_image(
                    job, ctx.registry, ctx.paths.outputs, lambda path, prompt: add_to_library(ctx, path, prompt), request
                ),
                priority=Priority.FOREGROUND,
                name=f"Upscale {request.image.name} {scale} with {model.id}",
                kind=UPSCALE_JOB_KIND,
                on_event=on_event,
                memory_bytes=model.size_bytes,
            )
        )
    return handles
