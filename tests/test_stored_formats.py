"""Settings, model manifests and the image form: older files load, newer ones are never rewritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from latentstudio.config import SETTINGS_VERSION, load_settings, save_settings
from latentstudio.imagegen.form_state import load_form, save_form
from latentstudio.imagegen.request import ImageRequest
from latentstudio.models import ModelRegistry
from latentstudio.stored_formats import NewerFormatError


def test_a_newer_settings_file_is_read_but_never_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": SETTINGS_VERSION + 1, "search_min_score": 0.31, "a_new_option": 3}))
    before = path.read_bytes()
    settings = load_settings(path)
    assert settings.search_min_score == 0.31 and settings.newer_file
    assert any("newer Latent Studio" in problem for problem in settings.problems)
    settings.update(search_min_score=0.5)
    with pytest.raises(NewerFormatError, match="was not changed"):
        save_settings(settings, path)
    assert path.read_bytes() == before


def test_release_0_1_0_settings_load_and_save(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "offline_mode": True, "library_folders": ["/photos"]}))
    settings = load_settings(path)
    assert settings.offline_mode and settings.library_folders == ["/photos"] and not settings.problems
    assert settings.theme == "system" and settings.cluster_address == ""  # keys added since 0.1.0
    save_settings(settings, path)
    saved = json.loads(path.read_text())
    assert saved["offline_mode"] is True and saved["library_folders"] == ["/photos"]
    assert saved["version"] == 1  # 0.1.0 reads it: it ignores keys it does not know


def _manifest(folder: Path, **fields) -> None:
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "weights.safetensors").write_bytes(b"x")
    data = {"id": folder.name, "kind": "clip", "format": "open_clip_hub", "entry": "model", **fields}
    (folder / "manifest.json").write_text(json.dumps(data))


def test_model_manifests_from_0_1_0_load_and_newer_ones_are_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "models"
    _manifest(root / "clip" / "old-model", size_bytes=1)  # 0.1.0 wrote no manifest_version
    _manifest(root / "clip" / "future-model", manifest_version=99)
    future = (root / "clip" / "future-model" / "manifest.json").read_bytes()
    registry = ModelRegistry(root)
    assert [m.id for m in registry.list("clip")] == ["old-model"]
    assert (root / "clip" / "future-model" / "manifest.json").read_bytes() == future


def test_the_image_form_of_a_newer_release_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "image-form.json"
    save_form(path, ImageRequest("a red circle", steps=7))
    assert load_form(path).steps == 7
    path.write_text(json.dumps({"form_version": 99, "prompt": "from the future", "steps": 9}))
    before = path.read_bytes()
    save_form(path, ImageRequest("a blue square", steps=3))
    assert path.read_bytes() == before
    old = tmp_path / "old-form.json"  # as 0.1.0 wrote it
    old.write_text(json.dumps({"prompt": "a green star", "steps": 12, "seed": 5}))
    meta = load_form(old)
    assert (meta.prompt, meta.steps, meta.seed) == ("a green star", 12, 5)


def test_the_image_form_remembers_the_hires_fix_and_not_the_mask(tmp_path: Path) -> None:
    path = tmp_path / "image-form.json"
    mask = tmp_path / "mask.png"
    save_form(path, ImageRequest("a castle", hires_scale=2.0, hires_strength=0.4, hires_upscaler="esrgan-x4",
                                 mask=mask, mask_blur=9))
    meta = load_form(path)
    assert (meta.hires_scale, meta.hires_strength, meta.hires_upscaler) == (2.0, 0.4, "esrgan-x4")
    assert meta.mask_blur is None and "mask" not in json.loads(path.read_text())
    save_form(path, ImageRequest("a castle"))
    assert load_form(path).hires_scale is None  # off is not remembered as a pass
