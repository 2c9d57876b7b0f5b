"""Model registry: detection by content, import (copy or link), list, defaults, remove, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from latentstudio.models import MissingModelError, ModelRegistry, UnsupportedModelError, detect_model


@pytest.fixture
def samples(tiny_models: Callable[[str], Path]) -> Path:
    return tiny_models("safetensors-samples")


@pytest.fixture
def registry(paths) -> ModelRegistry:
    return ModelRegistry(paths.models)


@pytest.mark.parametrize(
    "name, kind, fmt, variant",
    [
        ("open-clip-folder", "clip", "open_clip_hub", None),
        ("diffusers-folder", "diffusion", "diffusers", None),
        ("sd15-checkpoint.safetensors", "diffusion", "sd_single_file", "sd1"),
        ("sdxl-checkpoint.safetensors", "diffusion", "sd_single_file", "sdxl"),
        ("open-clip-checkpoint.safetensors", "clip", "open_clip_checkpoint", None),
        ("llm-folder", "llm", "transformers", None),
    ],
)
def test_detects_formats_by_content(samples: Path, name: str, kind: str, fmt: str, variant) -> None:
    detected = detect_model(samples / name)
    assert (detected.kind, detected.format, detected.variant) == (kind, fmt, variant)


@pytest.mark.parametrize(
    "name, message",
    [
        ("unknown.safetensors", "match no known model layout"),
        ("truncated.safetensors", "truncated"),
        ("garbage.safetensors", "not a safetensors file"),
        ("pickled.ckpt", "pickle checkpoints"),
        ("does-not-exist", "no such file or folder"),
    ],
)
def test_refuses_what_it_cannot_load(samples: Path, registry: ModelRegistry, name: str, message: str) -> None:
    with pytest.raises(UnsupportedModelError, match=message):
        registry.import_path(samples / name)
    assert registry.list() == []
    assert not any((registry.root).rglob("manifest.json"))


def test_import_copy_list_default_remove(samples: Path, registry: ModelRegistry) -> None:
    model = registry.import_path(samples / "llm-folder", model_id="coder")
    assert model.kind == "llm" and model.format == "transformers"
    assert model.path == registry.root / "llm" / "coder" / "model"
    assert (model.path / "config.json").is_file()
    assert model.size_bytes == sum(p.stat().st_size for p in (samples / "llm-folder").iterdir())
    manifest = json.loads((model.folder / "manifest.json").read_text())
    assert manifest["kind"] == "llm" and manifest["source"].endswith("llm-folder")
    # the first of a kind becomes its default
    assert registry.default("llm").id == "coder"
    second = registry.import_path(samples / "llm-folder", model_id="coder-2")
    assert registry.default("llm").id == "coder"
    registry.set_default(second.id)
    assert registry.resolve("llm").id == "coder-2"
    freed = registry.remove("coder-2")
    assert freed == second.size_bytes
    assert registry.resolve("llm").id == "coder"
    assert [m.id for m in registry.list()] == ["coder"]


def test_single_file_import_and_kind_check(samples: Path, registry: ModelRegistry) -> None:
    with pytest.raises(UnsupportedModelError, match="is a diffusion model"):
        registry.import_path(samples / "sd15-checkpoint.safetensors", kind="llm")
    model = registry.import_path(samples / "sd15-checkpoint.safetensors", kind="diffusion")
    assert model.id == "sd15-checkpoint"
    assert model.path.is_file() and model.path.name == "sd15-checkpoint.safetensors"
    assert model.variant == "sd1"


def test_bare_open_clip_checkpoint_needs_architecture(samples: Path, registry: ModelRegistry) -> None:
    with pytest.raises(UnsupportedModelError, match="--arch"):
        registry.import_path(samples / "open-clip-checkpoint.safetensors")
    model = registry.import_path(samples / "open-clip-checkpoint.safetensors", architecture="ViT-B-32")
    assert model.architecture == "ViT-B-32"


def test_linked_import_leaves_original(samples: Path, registry: ModelRegistry, tmp_path: Path) -> None:
    import shutil

    original = tmp_path / "my-model"
    shutil.copytree(samples / "diffusers-folder", original)
    before = sorted((p.relative_to(original), p.stat().st_size) for p in original.rglob("*"))
    model = registry.import_path(original, link=True)
    assert model.linked and (model.folder / "model").is_symlink()
    assert (model.path / "model_index.json").is_file()
    assert registry.remove(model.id) == 0
    after = sorted((p.relative_to(original), p.stat().st_size) for p in original.rglob("*"))
    assert before == after


def test_duplicate_id_refused(samples: Path, registry: ModelRegistry) -> None:
    registry.import_path(samples / "llm-folder", model_id="same")
    with pytest.raises(FileExistsError):
        registry.import_path(samples / "llm-folder", model_id="same")


def test_missing_model_error_names_kind(registry: ModelRegistry) -> None:
    with pytest.raises(MissingModelError, match="No CLIP model is installed"):
        registry.resolve("clip")


def test_manifest_cannot_point_outside(samples: Path, registry: ModelRegistry) -> None:
    model = registry.import_path(samples / "llm-folder", model_id="coder")
    manifest = model.folder / "manifest.json"
    data = json.loads(manifest.read_text())
    data["entry"] = "../../../../etc"
    manifest.write_text(json.dumps(data))
    assert registry.list() == []


def test_interrupted_import_leaves_no_model(samples: Path, registry: ModelRegistry, monkeypatch) -> None:
    import shutil

    def failing_copytree(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copytree", failing_copytree)
    with pytest.raises(OSError):
        registry.import_path(samples / "llm-folder")
    assert registry.list() == []
    assert not any(p.name.startswith(".staging") for p in (registry.root / "llm").iterdir())


def test_checkpoint_hash_cached_in_the_manifest_and_release_0_1_manifests_load(
    samples: Path, registry: ModelRegistry, tmp_path: Path
) -> None:
    import hashlib
    import os
    import shutil

    source = tmp_path / "linked.safetensors"
    shutil.copy2(samples / "sd15-checkpoint.safetensors", source)
    model = registry.import_path(source, link=True)
    manifest = model.folder / "manifest.json"
    # A manifest as release 0.1.0 wrote it: no version, no hash.
    data = json.loads(manifest.read_text())
    data.pop("manifest_version")
    manifest.write_text(json.dumps(data))
    old = registry.get(model.id)
    assert old.file_sha256 is None and old.size_bytes == model.size_bytes

    expected = hashlib.sha256(source.read_bytes()).hexdigest()
    assert registry.file_sha256(old) == expected
    upgraded = json.loads(manifest.read_text())
    assert upgraded["manifest_version"] == 2 and upgraded["file_sha256"]["hex"] == expected
    assert {k: upgraded[k] for k in data} == data  # everything the old manifest held is kept
    cached = registry.get(model.id)
    calls: list[int] = []
    assert registry.file_sha256(cached, checkpoint=lambda: calls.append(1)) == expected and calls == []  # not re-read

    # The linked file replaced in place: hashed again.
    source.write_bytes(source.read_bytes() + b" ")
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    assert registry.file_sha256(registry.get(model.id)) == hashlib.sha256(source.read_bytes()).hexdigest()
    assert registry.file_sha256(registry.import_path(samples / "llm-folder")) is None  # folders have no file hash

    # A manifest from a newer release is refused (the model is not listed), never rewritten.
    newer = dict(upgraded, manifest_version=99)
    manifest.write_text(json.dumps(newer))
    assert model.id not in [m.id for m in registry.list()]
    assert json.loads(manifest.read_text()) == newer
