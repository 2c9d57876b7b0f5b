"""Hires fix on the tiny pipeline: the second pass's size, previews from both passes, an upscaler
model through the tiled upscale code, one Cancel for the whole job, settings written and read."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from PIL import Image

from latentstudio.context import AppContext
from latentstudio.engine import Cancelled, EventKind, JobEvent, JobState
from latentstudio.imagegen import ImageRequest, StepPreview, read_metadata, submit_images
from latentstudio.imagegen.hires import hires_size
from latentstudio.imagegen.upscale import TilePreview

TIMEOUT = 300


@pytest.fixture
def sd_ctx(ctx: AppContext, tiny_models: Callable[[str], Path]) -> AppContext:
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    return ctx


def test_latent_hires_fix_doubles_the_size_in_one_job(sd_ctx: AppContext) -> None:
    events: list[JobEvent] = []
    request = ImageRequest("a red circle", seed=7, steps=4, hires_scale=2, hires_strength=0.5)
    result = submit_images(sd_ctx, request, on_event=events.append)[0].result(TIMEOUT)
    assert (result.width, result.height) == (128, 128)
    with Image.open(result.path) as image:
        assert image.size == (128, 128)
        parameters = image.text["parameters"]
    assert ("Size: 64x64, Model: tiny, Denoising strength: 0.5, Hires upscale: 2, Hires upscaler: Latent, "
            "Version: Latent Studio") in parameters
    messages = [e.payload.message for e in events if e.kind is EventKind.PROGRESS]
    assert messages[-6:] == ["step 1/4", "step 2/4", "step 3/4", "step 4/4", "hires step 1/2", "hires step 2/2"]
    previews = [e.payload for e in events if e.kind is EventKind.PREVIEW]
    assert all(isinstance(p, StepPreview) for p in previews)
    assert [p.image.shape[:2] for p in previews] == [(16, 16)] * 4 + [(32, 32)] * 2  # both passes' latents
    assert len({e.handle.id for e in events if e.handle is not None}) == 1

    meta = read_metadata(result.path)
    assert meta is not None
    assert (meta.width, meta.height, meta.hires_scale, meta.hires_strength, meta.hires_upscaler) == (
        64, 64, 2.0, 0.5, "latent")
    assert meta.strength is None  # the denoising strength belongs to the hires pass, not an img2img
    again = submit_images(sd_ctx, request)[0].result(TIMEOUT)
    assert Image.open(again.path).tobytes() == Image.open(result.path).tobytes()


def test_hires_fix_with_an_upscaler_model_runs_its_tiles_in_the_same_job(
    sd_ctx: AppContext, tiny_models: Callable[[str], Path]
) -> None:
    sd_ctx.registry.import_path(tiny_models("upscaler-tiny") / "compact-x2.safetensors", kind="upscaler",
                                model_id="compact", link=True)
    events: list[JobEvent] = []
    request = ImageRequest("x", seed=3, steps=2, hires_scale=1.5, hires_strength=0.5, hires_upscaler="compact")
    result = submit_images(sd_ctx, request, on_event=events.append)[0].result(TIMEOUT)
    assert (result.width, result.height) == (96, 96)
    kinds = [type(e.payload).__name__ for e in events if e.kind is EventKind.PREVIEW]
    assert kinds == ["StepPreview", "StepPreview", "TilePreview", "StepPreview"]
    tile = next(e.payload for e in events if e.kind is EventKind.PREVIEW and isinstance(e.payload, TilePreview))
    assert tile.image.shape[2] == 3
    with Image.open(result.path) as image:
        assert "Hires upscale: 1.5, Hires upscaler: compact" in image.text["parameters"]
    meta = read_metadata(result.path)
    assert meta is not None and meta.hires_upscaler == "compact"


def test_hires_fix_is_refused_before_queueing_when_it_cannot_run(sd_ctx: AppContext, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hires upscaler 'nope': no installed model with id 'nope'"):
        submit_images(sd_ctx, ImageRequest("x", hires_scale=2, hires_upscaler="nope"))
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 64)).save(init)
    with pytest.raises(ValueError, match="remove the init image"):
        submit_images(sd_ctx, ImageRequest("x", hires_scale=2, init_image=init))
    with pytest.raises(ValueError, match="hires scale must be between 1"):
        ImageRequest("x", hires_scale=4.5).validated()
    with pytest.raises(ValueError, match="hires strength"):
        ImageRequest("x", hires_scale=2, hires_strength=0).validated()
    with pytest.raises(ValueError, match="at most 4096"):
        hires_size(2048, 1024, 2.5)
    assert hires_size(64, 48, 1.5) == (96, 72) and hires_size(512, 768, 1.25) == (640, 960)
    assert not sd_ctx.engine_started


def test_one_cancel_stops_the_hires_pass(sd_ctx: AppContext) -> None:
    """Cancel pressed as the refining pass reports its first step: the job stops at that step's checkpoint."""
    messages: list[str] = []

    def on_event(event: JobEvent) -> None:  # on the engine thread, inside the step callback
        if event.kind is EventKind.PROGRESS:
            messages.append(event.payload.message)
            if event.payload.message.startswith("hires step"):
                event.handle.cancel()

    handle = submit_images(sd_ctx, ImageRequest("x", seed=1, steps=10, hires_scale=2, hires_strength=1.0),
                           on_event=on_event)[0]
    with pytest.raises(Cancelled):
        handle.result(TIMEOUT)
    assert handle.state is JobState.CANCELLED
    assert [m for m in messages if m.startswith("hires step")] == ["hires step 1/10"]
    assert list(sd_ctx.paths.outputs.rglob("*.png")) == []
