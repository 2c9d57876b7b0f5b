"""Upscalers: detected from their tensors, imported (a .pth through the weights_only reader), run in
tiles that blend to the untiled picture, halving on out-of-memory, cancellable between tiles; the
copy keeps its source's settings plus an Upscale entry and joins the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from PIL import Image

from latentstudio.context import AppContext
from latentstudio.engine import Cancelled, EventKind, JobEvent, JobState, ModelMemoryError
from latentstudio.imagegen.metadata import png_info, read_metadata, read_reading
from latentstudio.imagegen.service import submit_upscales
from latentstudio.imagegen.tiling import plan_for, run_tiles, run_tiles_halving, tile_span, tile_starts
from latentstudio.imagegen.upscale import TilePreview, UpscaleRequest, passes_for
from latentstudio.models import UnsupportedModelError
from latentstudio.models.detect import detect_model
from latentstudio.models.registry import ModelRegistry
from latentstudio.models.upscalers import load_upscaler

TIMEOUT = 120


@pytest.fixture(scope="module")
def upscalers(tiny_models: Callable[[str], Path]) -> Path:
    return tiny_models("upscaler-tiny")


@pytest.fixture
def registry(ctx: AppContext) -> ModelRegistry:
    return ctx.registry


def picture(width: int = 70, height: int = 50, seed: int = 0) -> np.ndarray:
    """A smooth picture with some noise: a model's output differs visibly from a resize of it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], axis=-1)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def untiled(descriptor: Any, image: np.ndarray) -> np.ndarray:
    """spandrel called directly on the whole picture."""
    import torch

    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    return (descriptor(tensor)[0] * 255).round().byte().permute(1, 2, 0).numpy()


# -- the model kind ------------------------------------------------------------------------


def test_an_upscaler_is_told_by_its_tensors(upscalers: Path) -> None:
    detected = detect_model(upscalers / "compact-x2.safetensors")
    assert (detected.kind, detected.format, detected.variant) == ("upscaler", "upscaler_spandrel", "2x")
    assert detected.details["architecture"] == "RealESRGAN Compact" and detected.details["scale"] == 2


def test_a_pth_upscaler_is_imported_as_safetensors_through_the_weights_only_reader(
    upscalers: Path, registry: ModelRegistry
) -> None:
    with pytest.raises(UnsupportedModelError, match="--kind upscaler"):
        registry.import_path(upscalers / "esrgan-x4.pth")  # a pickle needs the kind (or --weights-only)
    model = registry.import_path(upscalers / "esrgan-x4.pth", kind="upscaler", model_id="esrgan")
    assert (model.kind, model.variant, model.extra["architecture"], model.extra["scale"]) == ("upscaler", "4x", "ESRGAN", 4)
    assert model.path.suffix == ".safetensors"  # loaders never see the pickle
    assert load_upscaler(model.path).scale == 4
    assert registry.default("upscaler").id == "esrgan"
    assert (upscalers / "esrgan-x4.pth").is_file()  # the user's file stays


def test_import_list_default_and_remove_like_other_kinds(upscalers: Path, registry: ModelRegistry) -> None:
    registry.import_path(upscalers / "esrgan-x4.pth", kind="upscaler", model_id="esrgan")
    registry.import_path(upscalers / "compact-x2.safetensors", model_id="compact")
    assert [m.id for m in registry.list("upscaler")] == ["compact", "esrgan"]
    assert registry.set_default("compact").id == "compact"
    assert registry.resolve("upscaler").id == "compact"
    registry.remove("compact")
    assert registry.resolve("upscaler").id == "esrgan"
    assert (upscalers / "compact-x2.safetensors").is_file()


@pytest.mark.parametrize(
    "name, kind, reason",
    [
        ("evil-upscaler.pth", "upscaler", "holds Python objects other than tensors"),
        ("broken-esrgan.safetensors", None, "broken-esrgan.safetensors: spandrel cannot read it (Error"),
        ("not-a-model.safetensors", None, "not-a-model.safetensors: its tensors match no known model layout"),
    ],
)
def test_files_that_are_no_upscaler_are_refused_naming_the_file_and_the_reason(
    upscalers: Path, registry: ModelRegistry, name: str, kind: Any, reason: str
) -> None:
    with pytest.raises(UnsupportedModelError) as refused:
        registry.import_path(upscalers / name, kind=kind)
    assert reason in str(refused.value)
    assert registry.list("upscaler") == []


def test_a_picture_is_no_model(tmp_path: Path, registry: ModelRegistry) -> None:
    fake = tmp_path / "photo.safetensors"
    Image.fromarray(picture()).save(fake, format="PNG")
    with pytest.raises(UnsupportedModelError, match="photo.safetensors: not a safetensors file"):
        registry.import_path(fake, kind="upscaler")


# -- tiling --------------------------------------------------------------------------------


def test_tiles_cover_each_side_with_the_overlap_and_little_more() -> None:
    assert tile_starts(100, 512, 32) == [0] and tile_span(100, 512, 32) == 100
    for length, tile, overlap in ((1000, 256, 32), (4000, 512, 32), (513, 512, 32), (97, 32, 8), (1024, 512, 16)):
        span, starts = tile_span(length, tile, overlap), tile_starts(length, tile, overlap)
        assert span <= tile and starts[0] == 0 and starts[-1] + span == length
        overlaps = [a + span - b for a, b in zip(starts, starts[1:])]
        assert all(overlap <= o <= overlap + 1 for o in overlaps)  # never thinner, never much wider
    assert tile_span(4000, 512, 32) == 473 and len(tile_starts(4000, 512, 32)) == 9  # 9 x 473 - 8 x 32 = 4001


@pytest.mark.parametrize("tile", [32, 48, 64, 512])
def test_tiled_result_equals_the_untiled_one(upscalers: Path, tile: int) -> None:
    descriptor = load_upscaler(upscalers / "compact-x2.safetensors")
    image = picture(70, 50)
    tiled = run_tiles(descriptor, image, 2, plan_for(70, 50, tile))
    reference = untiled(descriptor, image)
    assert tiled.shape == reference.shape == (100, 140, 3)
    assert np.abs(tiled.astype(int) - reference.astype(int)).max() <= 1
    assert np.abs(reference.astype(int) - np.asarray(Image.fromarray(image).resize((140, 100))).astype(int)).mean() > 2


def test_a_tile_that_runs_out_of_memory_halves(upscalers: Path) -> None:
    descriptor = load_upscaler(upscalers / "compact-x2.safetensors")
    tried: list[int] = []

    def small_memory(tile: Any) -> Any:
        if max(tile.shape[-2:]) > 40:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return descriptor(tile)

    image = picture(70, 50)
    result, tile = run_tiles_halving(small_memory, image, 2, 128, on_tile_size=tried.append)
    assert tried == [128, 64, 32] and tile == 32
    assert np.abs(result.astype(int) - untiled(descriptor, image).astype(int)).max() <= 1

    def no_memory(tile: Any) -> Any:
        raise MemoryError()

    with pytest.raises(ModelMemoryError, match="even in tiles of 32 pixels"):
        run_tiles_halving(no_memory, image, 2, 64)


def test_a_scale_beyond_the_model_takes_more_passes() -> None:
    assert [passes_for(s, 4) for s in (1, 2, 4, 4.5, 16)] == [1, 1, 1, 2, 2]
    assert [passes_for(s, 2) for s in (2, 3, 4, 8)] == [1, 2, 2, 3]


# -- the job -------------------------------------------------------------------------------


def _source_with_settings(folder: Path) -> Path:
    path = folder / "generated.png"
    parameters = ("a cat in a hat\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, "
                  "Size: 64x48, Model: sd-turbo, Version: Latent Studio")
    ours = {"format": 1, "app": "Latent Studio", "prompt": "a cat in a hat", "negative_prompt": "blurry", "seed": 1234,
            "steps": 20, "guidance": 7, "width": 64, "height": 48, "scheduler": "Euler a", "model": {"id": "sd-turbo"}}
    Image.fromarray(picture(64, 48)).save(path, format="PNG", pnginfo=png_info(parameters, ours))
    return path


def test_upscaling_keeps_the_settings_adds_the_upscale_and_joins_the_library(
    ctx: AppContext, upscalers: Path, tmp_path: Path
) -> None:
    ctx.registry.import_path(upscalers / "compact-x2.safetensors", model_id="compact")
    source = _source_with_settings(tmp_path)
    events: list[JobEvent] = []
    [handle] = submit_upscales(ctx, [UpscaleRequest(source, tile=32)], on_event=events.append)
    result = handle.result(TIMEOUT)
    assert (result.width, result.height, result.scale, result.passes, result.tile) == (128, 96, 2.0, 1, 32)
    assert result.path.is_relative_to(ctx.paths.outputs) and result.path.name.endswith("-1234-x2-a-cat-in-a-hat.png")
    with Image.open(result.path) as written:
        assert written.size == (128, 96)
    meta = read_metadata(result.path)
    assert (meta.prompt, meta.negative_prompt, meta.seed, meta.steps, meta.model) == (
        "a cat in a hat", "blurry", 1234, 20, "sd-turbo")
    assert meta.extras["Upscale"] == "2" and meta.extras["Upscaler"] == "compact"
    parameters = read_reading(result.path).fields["parameters"]
    assert parameters.endswith("Size: 64x48, Model: sd-turbo, Upscale: 2, Upscaler: compact, Version: Latent Studio")
    previews = [e.payload for e in events if e.kind is EventKind.PREVIEW]
    assert [p.done for p in previews] == list(range(1, 7)) and all(isinstance(p, TilePreview) for p in previews)
    assert previews[-1].image.shape == (96, 128, 3)
    row = ctx.library.store.image_by_path(str(result.path))
    assert row is not None and row.generated and row.prompt == "a cat in a hat"


def test_a_photo_without_settings_gets_only_the_upscale_and_an_exact_odd_scale(
    ctx: AppContext, upscalers: Path, tmp_path: Path
) -> None:
    ctx.registry.import_path(upscalers / "compact-x2.safetensors", model_id="compact")
    photo = tmp_path / "holiday.jpg"
    Image.fromarray(picture(40, 30)).save(photo, quality=90)
    result = submit_upscales(ctx, [UpscaleRequest(photo, scale=3)])[0].result(TIMEOUT)
    assert (result.width, result.height, result.passes) == (120, 90, 2)  # 2x twice, then down to 3x
    assert result.path.name.endswith("-x3-holiday.png")
    reading = read_reading(result.path)
    assert reading.fields["parameters"] == "Upscale: 3, Upscaler: compact, Version: Latent Studio"
    assert "latentstudio" not in reading.fields


def test_cancel_stops_between_tiles_and_writes_nothing(ctx: AppContext, upscalers: Path, tmp_path: Path) -> None:
    ctx.registry.import_path(upscalers / "compact-x2.safetensors", model_id="compact")
    photo = tmp_path / "big.png"
    Image.fromarray(picture(200, 160)).save(photo)
    tiles: list[int] = []

    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PREVIEW:
            tiles.append(event.payload.done)
            if len(tiles) == 2:
                event.handle.cancel()

    [handle] = submit_upscales(ctx, [UpscaleRequest(photo, tile=32)], on_event=on_event)
    with pytest.raises(Cancelled):
        handle.result(TIMEOUT)
    assert handle.state is JobState.CANCELLED
    assert tiles == [1, 2]  # the tile after the cancel never ran
    assert not ctx.paths.outputs.exists() or not list(ctx.paths.outputs.rglob("*.png"))


def test_bad_requests_are_refused_before_queueing(ctx: AppContext, upscalers: Path, tmp_path: Path) -> None:
    from latentstudio.models import MissingModelError

    photo = tmp_path / "p.png"
    Image.fromarray(picture()).save(photo)
    with pytest.raises(MissingModelError, match="No upscaler model is installed"):
        submit_upscales(ctx, [UpscaleRequest(photo)])
    ctx.registry.import_path(upscalers / "compact-x2.safetensors", model_id="compact")
    with pytest.raises(FileNotFoundError):
        submit_upscales(ctx, [UpscaleRequest(tmp_path / "missing.png")])
    with pytest.raises(ValueError, match="scale must be between"):
        submit_upscales(ctx, [UpscaleRequest(photo, scale=0.5)])
    with pytest.raises(ValueError, match="tile size must be at least 32"):
        submit_upscales(ctx, [UpscaleRequest(photo, tile=8)])


def test_the_manifest_records_what_spandrel_read(upscalers: Path, registry: ModelRegistry) -> None:
    model = registry.import_path(upscalers / "compact-x2.safetensors", model_id="compact")
    manifest = json.loads((model.folder / "manifest.json").read_text())
    assert manifest["extra"]["tags"] == ["8nf", "2nc"] and manifest["extra"]["tiling"] == "supported"


def test_a_catalogue_pth_is_downloaded_checked_and_installed_as_safetensors(
    ctx: AppContext, upscalers: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import hashlib

    from latentstudio.models.catalogue import CatalogueEntry, CatalogueFile
    from latentstudio.models.download import download_for_app
    from tests.support.fake_hub import FakeHub, point_client_at

    data = (upscalers / "esrgan-x4.pth").read_bytes()
    entry = CatalogueEntry(
        id="esrgan-x4", kind="upscaler", name="Tiny ESRGAN", repo="test-org/esrgan", revision="main",
        licence="BSD-3-Clause", licence_url="", good_for="tests", min_memory_gb=0, default_for=("cpu",),
        files=(CatalogueFile("RealESRGAN_x4plus.pth", len(data), "RealESRGAN_x4plus.pth",
                             hashlib.sha256(data).hexdigest()),),
    )
    with FakeHub() as hub:
        hub.add_file("test-org/esrgan", "RealESRGAN_x4plus.pth", data)
        point_client_at(hub, monkeypatch, tmp_path / "hf-cache")
        model = download_for_app(ctx, entry)
    assert (model.kind, model.variant, model.path.name) == ("upscaler", "4x", "RealESRGAN_x4plus.safetensors")
    assert not list(model.folder.rglob("*.pth"))  # only the converted copy is installed
    assert load_upscaler(model.path).scale == 4
    assert not ctx.paths.downloads.exists() or not list(ctx.paths.downloads.rglob("*.pth"))


def test_the_catalogue_offers_a_small_4x_upscaler_on_a_cpu_and_x4plus_on_a_gpu() -> None:
    from latentstudio.engine import DeviceInfo
    from latentstudio.models.catalogue import Catalogue

    catalogue = Catalogue.load()
    entries = {e.id: e for e in catalogue.for_kind("upscaler")}
    assert set(entries) == {"realesr-general-x4v3", "realesrgan-x4plus", "realesrgan-x2plus"}
    assert all(e.licence == "BSD-3-Clause" and e.files[0].sha256 and e.size_bytes > 4_000_000 for e in entries.values())
    assert catalogue.recommended("upscaler", DeviceInfo.cpu()).id == "realesr-general-x4v3"
    gpu = DeviceInfo("cuda", "a GPU", 8 * 2**30)
    assert catalogue.recommended("upscaler", gpu).id == "realesrgan-x4plus"
