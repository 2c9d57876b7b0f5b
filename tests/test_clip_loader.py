"""CLIP loading (hub folder, architecture + checkpoint, registry) and parity with open_clip's own pipeline."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentstudio.engine import DeviceInfo, Engine
from latentstudio.library.decode import decode_image
from latentstudio.library.thumbnails import THUMBNAIL_SIZE
from latentstudio.models import ModelRegistry
from latentstudio.models.clip_loader import (
    ClipModel,
    PixelSpec,
    clip_in_job,
    load_clip_checkpoint,
    load_clip_folder,
    load_installed_clip,
)


def _photo(path: Path, size: tuple[int, int], seed: int, quality: int = 92) -> Path:
    """A smooth, photo-like image (gradients + blobs) so resampling differences stay small."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    channels = []
    for _ in range(3):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.2, 0.6) * max(w, h)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
        channels.append(255 * (0.3 * x / w + 0.7 * blob))
    array = np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)
    image = Image.fromarray(array)
    if path.suffix == ".png":
        image.save(path)
    else:
        image.save(path, quality=quality)
    return path


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def _reference(clip: ClipModel, path: Path) -> np.ndarray:
    """open_clip's own preprocess + encode on the fully decoded file."""
    import torch

    with Image.open(path) as image:
        tensor = clip.preprocess(image.convert("RGB")).unsqueeze(0)
    with torch.inference_mode():
        return clip.model.encode_image(tensor, normalize=True)[0].numpy()


@pytest.fixture(scope="module")
def tiny_clip(tiny_models) -> ClipModel:
    return load_clip_folder(tiny_models("clip-tiny"))


def test_hub_folder_loads_with_its_preprocess_config(tiny_clip: ClipModel) -> None:
    assert tiny_clip.spec.size == (32, 32)
    assert tiny_clip.spec.interpolation == "bicubic"
    assert tiny_clip.embed_dim == 32
    vectors = tiny_clip.encode_text(["a red circle", "a blue square"])
    assert vectors.shape == (2, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "name,size",
    [("wide.jpg", (320, 200)), ("tall.png", (150, 260)), ("square.jpg", (96, 96)), ("big.jpg", (1600, 1200))],
)
def test_pipeline_vectors_match_open_clip(tiny_clip: ClipModel, tmp_path: Path, name: str, size) -> None:
    path = _photo(tmp_path / name, size, seed=len(name))
    # The indexer's path: reduced-scale decode (draft mode on JPEGs), our resize/crop, batch encode.
    decoded = decode_image(path, min_side=max(max(tiny_clip.spec.size), THUMBNAIL_SIZE))
    ours = tiny_clip.encode_pixels(tiny_clip.spec.to_pixels(decoded.image)[None])[0]
    assert _cosine(ours, _reference(tiny_clip, path)) >= 0.99


def test_resize_matches_open_clip_exactly_without_draft(tiny_clip: ClipModel, tmp_path: Path) -> None:
    import torch

    path = _photo(tmp_path / "exact.png", (123, 77), seed=3)
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        expected = tiny_clip.preprocess(rgb)
        ours = tiny_clip.pixels_to_tensor(tiny_clip.spec.to_pixels(rgb)[None])[0]
    assert torch.allclose(ours, expected, atol=1e-4)


def test_pixel_spec_modes() -> None:
    image = Image.new("RGB", (100, 50), (10, 20, 30))
    spec = PixelSpec((32, 32), (0.5,) * 3, (0.5,) * 3)
    assert spec.to_pixels(image).shape == (32, 32, 3)
    squash = PixelSpec((32, 48), (0.5,) * 3, (0.5,) * 3, resize_mode="squash")
    assert squash.to_pixels(image).shape == (32, 48, 3)
    longest = PixelSpec((32, 32), (0.5,) * 3, (0.5,) * 3, resize_mode="longest", fill_color=255)
    padded = longest.to_pixels(image)
    assert padded.shape == (32, 32, 3) and padded[0, 0, 0] == 255 and padded[16, 16, 0] == 10


def test_architecture_plus_checkpoint(tiny_clip: ClipModel, tiny_models, tmp_path: Path) -> None:
    import open_clip
    from safetensors.torch import save_file

    config = json.loads((tiny_models("clip-tiny") / "open_clip_config.json").read_text())
    arch = tmp_path / "latent-tiny-arch.json"
    arch.write_text(json.dumps(config["model_cfg"]))
    open_clip.add_model_config(arch)  # registers the architecture name "latent-tiny-arch"
    checkpoint = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_clip.model.state_dict().items()}, str(checkpoint))
    loaded = load_clip_checkpoint("latent-tiny-arch", checkpoint)
    text = ["a yellow triangle"]
    assert np.allclose(loaded.encode_text(text), tiny_clip.encode_text(text), atol=1e-5)

    registry = ModelRegistry(tmp_path / "models")
    installed = registry.import_path(checkpoint, kind="clip", model_id="ckpt", architecture="latent-tiny-arch")
    assert installed.format == "open_clip_checkpoint"
    assert np.allclose(load_installed_clip(installed).encode_text(text), tiny_clip.encode_text(text), atol=1e-5)

    with pytest.raises(ValueError, match="unknown open_clip architecture"):
        load_clip_checkpoint("no-such-arch", checkpoint)
    pickle = tmp_path / "weights.pt"
    pickle.write_bytes(b"\x80\x04")
    with pytest.raises(ValueError, match="safetensors"):
        load_clip_checkpoint("latent-tiny-arch", pickle)


def test_loading_never_touches_the_network(tiny_models, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("network access while loading a local model")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    clip = load_clip_folder(tiny_models("clip-tiny"))
    assert clip.encode_text(["offline"]).shape == (1, 32)


def test_folder_without_safetensors_is_refused(tmp_path: Path, tiny_models) -> None:
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text((tiny_models("clip-tiny") / "open_clip_config.json").read_text())
    (folder / "open_clip_pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(FileNotFoundError, match="safetensors"):
        load_clip_folder(folder)


def test_model_cache_keeps_clip_resident(tiny_models, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    installed = registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="tiny")
    with Engine(device=DeviceInfo.cpu("test")) as engine:
        def run(job):
            with clip_in_job(job, installed) as clip:
                return id(clip), clip.encode_text(["x"]).shape

        first = engine.submit(run).result(60)
        second = engine.submit(run).result(60)
        assert first == second and first[1] == (1, 32)
        assert "clip:tiny" in engine.models


@pytest.mark.gpu
def test_cuda_float16_matches_cpu_float32(tiny_models, tmp_path: Path) -> None:
    import torch

    folder = tiny_models("clip-shapes")
    cpu = load_clip_folder(folder)
    gpu = load_clip_folder(folder, torch.device("cuda"), torch.float16)
    assert gpu.dtype == torch.float16
    path = _photo(tmp_path / "gpu.jpg", (640, 480), seed=9)
    decoded = decode_image(path, min_side=256)
    pixels = cpu.spec.to_pixels(decoded.image)[None]
    assert _cosine(gpu.encode_pixels(pixels)[0], cpu.encode_pixels(pixels)[0]) >= 0.99
    text = ["a red circle"]
    assert _cosine(gpu.encode_text(text)[0], cpu.encode_text(text)[0]) >= 0.99


def test_loading_logs_no_misleading_random_initialisation_warning(tiny_models, caplog) -> None:
    import logging

    with caplog.at_level(logging.INFO):
        load_clip_folder(tiny_models("clip-tiny"))
    assert not [r for r in caplog.records if "initialized randomly" in r.getMessage()]
    assert any("clip-tiny" in r.getMessage() for r in caplog.records)  # open_clip's other lines stay
