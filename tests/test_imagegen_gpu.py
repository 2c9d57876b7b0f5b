"""The CUDA path: float16 pipelines, seeds that give the same image every run, offload when the budget
is short, slicing/tiling for large images, cancel within a step. Skipped without a CUDA GPU."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
from PIL import Image

from latentstudio.context import AppContext
from latentstudio.engine import Cancelled, EventKind, JobEvent
from latentstudio.engine.device import detect_device
from latentstudio.imagegen import ImageRequest, submit_images
from latentstudio.imagegen.loading import LoadedPipeline, pipeline_key
from latentstudio.paths import Paths

pytestmark = pytest.mark.gpu
TIMEOUT = 300


@pytest.fixture
def gpu_ctx(paths: Paths, tiny_models: Callable[[str], Path]) -> Iterator[AppContext]:
    device = detect_device("cuda")
    assert device.kind == "cuda", device.fallback_reason
    context = AppContext(paths, device=device)
    context.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny",
                                 link=True)
    yield context
    context.close()


def resident(ctx: AppContext) -> LoadedPipeline:
    model = ctx.registry.get("tiny")
    with ctx.engine.models.use(pipeline_key(model), lambda: None) as loaded:
        assert isinstance(loaded, LoadedPipeline)
        return loaded


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def run(ctx: AppContext, **settings: object) -> list:
    request = ImageRequest(**{"prompt": "a red circle", "steps": 4, **settings})  # type: ignore[arg-type]
    return [h.result(TIMEOUT) for h in submit_images(ctx, request)]


def test_cuda_float16_pipeline_is_deterministic_per_seed(gpu_ctx: AppContext) -> None:
    import torch

    first, again = run(gpu_ctx, seed=3) + run(gpu_ctx, seed=3)
    other = run(gpu_ctx, seed=4)[0]
    loaded = resident(gpu_ctx)
    assert loaded.pipe.unet.dtype == torch.float16 and loaded.pipe.unet.device.type == "cuda"
    assert not loaded.offloaded
    assert np.array_equal(pixels(first.path), pixels(again.path))
    assert not np.array_equal(pixels(first.path), pixels(other.path))


def test_cuda_image_matches_the_cpu_image_for_a_seed(gpu_ctx: AppContext, ctx: AppContext) -> None:
    """The CPU generator makes the starting noise, so a seed gives (nearly) one image on any device."""
    assert ctx.registry.get("tiny")  # the same data home: the CPU context sees the same model
    on_gpu = pixels(run(gpu_ctx, seed=8, scheduler="DDIM")[0].path)
    on_cpu = pixels(run(ctx, seed=8, scheduler="DDIM")[0].path)
    other_seed = pixels(run(ctx, seed=9, scheduler="DDIM")[0].path)
    assert np.abs(on_gpu - on_cpu).mean() < np.abs(other_seed - on_cpu).mean() / 4


def test_short_budget_runs_with_cpu_offload(paths: Paths, tiny_models: Callable[[str], Path]) -> None:
    import torch

    ctx = AppContext(paths, device=detect_device("cuda"))
    ctx.settings.update(memory_budget_gb=0.001)  # about 1 MiB: no pipeline fits
    try:
        ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny",
                                 link=True)
        first, again = run(ctx, seed=5) + run(ctx, seed=5)
        loaded = resident(ctx)
        assert loaded.offloaded
        assert np.array_equal(pixels(first.path), pixels(again.path))
        assert next(loaded.pipe.unet.parameters()).device.type == "cpu"  # parked in RAM between runs
        assert loaded.pipe.unet.dtype == torch.float16
    finally:
        ctx.close()


def test_large_images_use_slicing_and_tiling(gpu_ctx: AppContext) -> None:
    result = run(gpu_ctx, seed=1, steps=2, width=1088, height=1024)[0]
    assert (result.width, result.height) == (1088, 1024)
    assert Image.open(result.path).size == (1088, 1024)
    assert resident(gpu_ctx).large_mode
    assert run(gpu_ctx, seed=1, steps=1)[0].width == 64
    assert not resident(gpu_ctx).large_mode  # back to the fast path for normal sizes


def test_cancel_on_the_gpu_within_one_step(gpu_ctx: AppContext) -> None:
    seen: list[int] = []
    handle_box: list = []

    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PROGRESS and event.payload.total:
            seen.append(int(event.payload.done))
            if event.payload.done == 3:
                handle_box[0].cancel()

    handle_box.extend(submit_images(gpu_ctx, ImageRequest("x", seed=1, steps=50), on_event=on_event))
    with pytest.raises(Cancelled):
        handle_box[0].result(TIMEOUT)
    assert max(seen) == 3
    assert run(gpu_ctx, seed=2, steps=2)[0].path.is_file()
