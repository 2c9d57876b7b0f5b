"""The shipped catalogue: required models, licences, safe paths, and the default pick per device."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from latentstudio.engine import DeviceInfo
from latentstudio.models.catalogue import Catalogue, CatalogueError

GIB = 2**30


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load()


def test_catalogue_lists_the_required_models(catalogue: Catalogue):
    repos = {e.repo: e for e in catalogue.entries}
    for repo in (
        "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
        "stabilityai/sd-turbo",
        "Qwen/Qwen2.5-Coder-0.5B-Instruct",
        "Qwen/Qwen2.5-Coder-1.5B-Instruct",
    ):
        assert repo in repos
    for kind in ("clip", "diffusion", "llm"):
        assert len(catalogue.for_kind(kind)) >= 2
    for entry in catalogue.entries:
        assert entry.licence and entry.good_for and entry.size_bytes > 0
    assert repos["Qwen/Qwen2.5-Coder-0.5B-Instruct"].licence == "Apache-2.0"
    assert repos["Qwen/Qwen2.5-Coder-1.5B-Instruct"].licence == "Apache-2.0"
    # open_clip folders must hold the hub layout the loader expects.
    for entry in catalogue.for_kind("clip"):
        assert {f.save_as for f in entry.files} == {"open_clip_config.json", "open_clip_model.safetensors"}
    for entry in catalogue.for_kind("diffusion"):
        assert "model_index.json" in {f.save_as for f in entry.files}
        assert all(not f.save_as.endswith(".bin") for f in entry.files)
    # text-embedding: whole sentence-transformers folders (pooling and tokenizer.json, which the
    # torch-free code search reads), a small default and a stronger choice.
    embedders = catalogue.for_kind("text-embedding")
    assert len(embedders) >= 2
    for entry in embedders:
        assert {"modules.json", "1_Pooling/config.json", "tokenizer.json", "model.safetensors"} <= {
            f.save_as for f in entry.files}
    assert [e.id for e in embedders if e.default_for] == ["all-minilm-l6-v2"]


def test_default_pick_follows_device_and_memory(catalogue: Catalogue):
    cpu = DeviceInfo("cpu", "test CPU", 16 * GIB)
    big_gpu = DeviceInfo("cuda", "test GPU", 24 * GIB)
    small_gpu = DeviceInfo("cuda", "small GPU", 5 * GIB)

    def pick(kind, device, ram=16 * GIB):
        return catalogue.recommended(kind, device, ram_bytes=ram).repo

    assert pick("clip", cpu) == pick("clip", big_gpu) == "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
    assert pick("diffusion", cpu) == "stabilityai/sd-turbo"
    assert pick("llm", cpu) == "Qwen/Qwen2.5-Coder-0.5B-Instruct"
    assert pick("llm", big_gpu) == "Qwen/Qwen2.5-Coder-1.5B-Instruct"
    assert pick("llm", small_gpu) == "Qwen/Qwen2.5-Coder-0.5B-Instruct"  # 1.5B does not fit in 5 GiB
    assert pick("diffusion", big_gpu) != "stabilityai/sd-turbo"
    assert pick("llm", None, ram=4 * GIB) == "Qwen/Qwen2.5-Coder-0.5B-Instruct"


@pytest.mark.parametrize("bad", ["../escape.bin", "/etc/passwd", "a\\b.bin", ".hidden/x"])
def test_unsafe_catalogue_paths_are_refused(tmp_path: Path, bad: str):
    data = {"models": [{"id": "x", "kind": "llm", "repo": "o/x", "licence": "MIT",
                        "files": [{"path": "config.json", "save_as": bad}]}]}
    (tmp_path / "models.json").write_text(json.dumps(data))
    with pytest.raises(CatalogueError, match="unsafe file path"):
        Catalogue.load(tmp_path / "models.json")


def test_unknown_id_and_broken_catalogue_say_what_is_wrong(tmp_path: Path, catalogue: Catalogue):
    with pytest.raises(CatalogueError, match="known: clip-vit-b-32"):
        catalogue.get("nope")
    (tmp_path / "models.json").write_text("{not json")
    with pytest.raises(CatalogueError, match="cannot read the model catalogue"):
        Catalogue.load(tmp_path / "models.json")
