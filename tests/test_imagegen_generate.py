"""Generation jobs on the tiny pipeline: seeds, previews, cancel, the queue, img2img, offline single files."""

from __future__ import annotations

import hashlib

import socket
import threading
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from latentstudio.context import AppContext
from latentstudio.engine import Cancelled, EventKind, JobEvent, JobState, Priority
from latentstudio.imagegen import ImageRequest, StepPreview, read_metadata, submit_images
from latentstudio.models import MissingModelError

TIMEOUT = 300


@pytest.fixture
def tiny(tiny_models: Callable[[str], Path]) -> Path:
    return tiny_models("diffusion-tiny")


@pytest.fixture
def sd_ctx(ctx: AppContext, tiny: Path) -> AppContext:
    ctx.registry.import_path(tiny / "diffusers", kind="diffusion", model_id="tiny", link=True)
    return ctx


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def generate(ctx: AppContext, **settings: object) -> list:
    request = ImageRequest(**{"prompt": "a red circle", "steps": 2, **settings})  # type: ignore[arg-type]
    return [h.result(TIMEOUT) for h in submit_images(ctx, request)]


def test_same_seed_same_pixels_other_seed_differs_with_previews(sd_ctx: AppContext) -> None:
    events: list[JobEvent] = []
    request = ImageRequest("a red circle", negative_prompt="blue", seed=5, steps=3, scheduler="Euler a")
    first = submit_images(sd_ctx, request, on_event=events.append)[0].result(TIMEOUT)
    again, other = generate(sd_ctx, negative_prompt="blue", seed=5, steps=3, scheduler="Euler a") + generate(
        sd_ctx, negative_prompt="blue", seed=6, steps=3, scheduler="Euler a"
    )
    assert first.path != again.path and first.path.parent.parent == sd_ctx.paths.outputs
    assert np.array_equal(pixels(first.path), pixels(again.path))
    assert not np.array_equal(pixels(first.path), pixels(other.path))
    assert (first.width, first.height) == (64, 64)  # the tiny model's native size

    steps = [e.payload for e in events if e.kind is EventKind.PROGRESS and e.payload.total]
    assert [(p.done, p.total) for p in steps] == [(1, 3), (2, 3), (3, 3)]
    previews = [e.payload for e in events if e.kind is EventKind.PREVIEW]
    assert [p.step for p in previews] == [1, 2, 3]
    assert all(isinstance(p, StepPreview) and p.image.shape == (16, 16, 3) and p.image.dtype == np.uint8
               for p in previews)
    assert not np.array_equal(previews[0].image, previews[-1].image)

    meta = read_metadata(first.path)
    assert meta is not None and (meta.seed, meta.steps, meta.scheduler) == (5, 3, "Euler a")
    with Image.open(first.path) as image:
        assert "Seed: 5, Size: 64x64, Model: tiny" in image.text["parameters"]


def test_blank_seed_is_random_and_recorded(sd_ctx: AppContext) -> None:
    results = generate(sd_ctx, count=2, steps=1)
    assert (results[1].seed - results[0].seed) % 2**32 == 1
    for result in results:
        meta = read_metadata(result.path)
        assert meta is not None and meta.seed == result.seed


def test_cancel_stops_within_one_step_and_the_next_job_runs(sd_ctx: AppContext) -> None:
    reached = threading.Event()
    steps_seen: list[int] = []

    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PROGRESS and event.payload.total:
            steps_seen.append(int(event.payload.done))
            if event.payload.done >= 2:
                reached.set()

    long_job = submit_images(sd_ctx, ImageRequest("slow", seed=1, steps=40), on_event=on_event)[0]
    next_job = submit_images(sd_ctx, ImageRequest("next", seed=2, steps=1))[0]
    assert reached.wait(TIMEOUT)
    cancelled_at = steps_seen[-1]
    long_job.cancel()
    with pytest.raises(Cancelled):
        long_job.result(TIMEOUT)
    assert long_job.state is JobState.CANCELLED
    assert max(steps_seen) <= cancelled_at + 1 < 40
    assert next_job.result(TIMEOUT).path.is_file()
    assert [p.name for p in sd_ctx.paths.outputs.rglob("*.png")] == [next_job.result().path.name]


def test_queue_runs_in_order_and_skips_cancelled_entries(sd_ctx: AppContext) -> None:
    engine = sd_ctx.engine
    gate, running = threading.Event(), threading.Event()

    def block(job: object) -> None:
        running.set()
        gate.wait(TIMEOUT)

    blocker = engine.submit(block, priority=Priority.FOREGROUND, name="blocker")
    assert running.wait(TIMEOUT)
    started: list[int] = []
    handles = submit_images(
        sd_ctx,
        ImageRequest("queued", seed=100, steps=1, count=3),
        on_event=lambda e: started.append(e.handle.id) if e.kind is EventKind.STARTED else None,
    )
    first, second, third = handles
    assert engine.move(third, -2)  # the user drags the last one to the front
    second.cancel()
    assert [h.id for h in engine.queued()] == [third.id, first.id]
    gate.set()
    blocker.result(TIMEOUT)
    assert third.result(TIMEOUT).seed == 102 and first.result(TIMEOUT).seed == 100
    assert started == [third.id, first.id]
    assert second.state is JobState.CANCELLED


def test_img2img_starts_from_the_init_image(sd_ctx: AppContext, tmp_path: Path) -> None:
    red, blue = tmp_path / "red.png", tmp_path / "blue.jpg"
    Image.new("RGB", (96, 64), (220, 20, 20)).save(red)
    Image.new("RGB", (96, 64), (20, 20, 220)).save(blue)
    events: list[JobEvent] = []
    request = ImageRequest("a shape", seed=3, steps=4, init_image=red, strength=0.5)
    from_red = submit_images(sd_ctx, request, on_event=events.append)[0].result(TIMEOUT)
    from_red_again, from_blue = generate(sd_ctx, prompt="a shape", seed=3, steps=4, init_image=red, strength=0.5) + \
        generate(sd_ctx, prompt="a shape", seed=3, steps=4, init_image=blue, strength=0.5)
    assert (from_red.width, from_red.height) == (96, 64)
    totals = {e.payload.total for e in events if e.kind is EventKind.PROGRESS and e.payload.total}
    assert totals == {2}  # strength 0.5 of 4 steps
    assert np.array_equal(pixels(from_red.path), pixels(from_red_again.path))
    # The tiny VAE has random weights, so colours do not survive it; the init image still decides the result.
    assert not np.array_equal(pixels(from_red.path), pixels(from_blue.path))
    meta = read_metadata(from_red.path)
    assert meta is not None and meta.strength == 0.5
    with Image.open(from_red.path) as image:
        assert "Denoising strength: 0.5" in image.text["parameters"]


def test_single_file_checkpoint_loads_without_network(
    sd_ctx: AppContext, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    single = sd_ctx.registry.import_path(tiny / "tiny-sd1.safetensors", kind="diffusion", model_id="single", link=True)
    assert (single.format, single.variant) == ("sd_single_file", "sd1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    attempts: list[object] = []

    def no_network(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network access attempted during loading")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    request = ImageRequest("a red circle", seed=11, steps=2, model_id="single")
    # The tiny checkpoint's architecture is described by its own diffusers folder, standing in for
    # the bundled SD configs (which describe the full-size architectures).
    from_file = submit_images(sd_ctx, request, config_dir=tiny / "diffusers")[0].result(TIMEOUT)
    from_folder = generate(sd_ctx, seed=11, steps=2, model_id="tiny")[0]
    assert attempts == []
    assert np.array_equal(pixels(from_file.path), pixels(from_folder.path))
    # A1111's Model hash: the checkpoint file's SHA-256, first 10 digits, cached in the manifest.
    sha256 = hashlib.sha256((tiny / "tiny-sd1.safetensors").read_bytes()).hexdigest()
    meta = read_metadata(from_file.path)
    assert meta is not None and (meta.model, meta.model_hash) == ("single", sha256[:10])
    assert f"Model hash: {sha256[:10]}, Model: single" in Image.open(from_file.path).text["parameters"]
    assert sd_ctx.registry.get("single").file_sha256["hex"] == sha256
    assert read_metadata(from_folder.path).model_hash is None  # a diffusers folder has no one checkpoint file


def test_missing_model_fails_before_queueing(ctx: AppContext) -> None:
    with pytest.raises(MissingModelError):
        submit_images(ctx, ImageRequest("x"))
    assert not ctx.engine_started


def test_model_offload_gives_the_same_image(tiny: Path) -> None:
    """The path taken on a GPU whose budget is short, exercised on the CPU: same pixels, smaller footprint."""
    import torch

    from latentstudio.engine import DeviceInfo
    from latentstudio.imagegen.loading import LoadedPipeline, enable_offload, load_folder

    plain = LoadedPipeline(load_folder(tiny / "diffusers", torch.float32), "tiny", "sd1")
    offloaded_pipe = load_folder(tiny / "diffusers", torch.float32)
    enable_offload(offloaded_pipe, DeviceInfo.cpu())
    offloaded = LoadedPipeline(offloaded_pipe, "tiny", "sd1", offloaded=True)
    assert 0 < offloaded.nbytes < plain.nbytes  # only the largest component is on the device at once
    settings = dict(prompt="a red circle", num_inference_steps=2, output_type="np")
    images = [
        loaded.pipe(generator=torch.Generator("cpu").manual_seed(1), **settings).images
        for loaded in (plain, offloaded)
    ]
    assert np.array_equal(images[0], images[1])


def test_init_images_are_sized_sensibly(tmp_path: Path) -> None:
    from latentstudio.imagegen.generate import load_init_image

    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (6000, 4000)).save(photo)
    assert load_init_image(photo, None, None, native=512).size == (1248, 832)  # about 1 megapixel
    assert load_init_image(photo, 512, 768, native=512).size == (512, 768)  # the request wins
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(ValueError, match="cannot be read"):
        load_init_image(tmp_path / "broken.png", None, None)


def test_a_heic_init_image_is_read_in_a_fresh_process(tmp_path: Path) -> None:
    """The init-image dialog offers HEIC: reading one must not depend on the library having decoded one first."""
    import subprocess
    import sys

    from latentstudio.image_formats import register_heif

    assert register_heif()
    photo = tmp_path / "phone.heic"
    Image.new("RGB", (640, 480), "red").save(photo, "HEIF")
    code = ("from pathlib import Path\nfrom latentstudio.imagegen.generate import load_init_image\n"
            f"print(load_init_image(Path({str(photo)!r}), None, None).size)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "(640, 480)", done.stderr
