"""Imports as users have their models: each format by content, refusals with their reasons, links,
a whole folder of checkpoints at once, and pickle checkpoints only on request (weights_only)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from latentstudio.cli import main
from latentstudio.models import UnsupportedModelError
from latentstudio.models.batch_import import collection_members, import_collection
from latentstudio.models.registry import ModelRegistry
from latentstudio.context import AppContext


@pytest.fixture
def samples(tiny_models) -> Path:
    return tiny_models("safetensors-samples")


@pytest.fixture
def registry(paths) -> ModelRegistry:
    return ModelRegistry(paths.models)


def digest(path: Path) -> str:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


@pytest.mark.parametrize(
    "name, kind, fmt",
    [
        ("open-clip-folder", "clip", "open_clip_hub"),
        ("diffusers-folder", "diffusion", "diffusers"),
        ("sd15-checkpoint.safetensors", "diffusion", "sd_single_file"),
        ("sdxl-checkpoint.safetensors", "diffusion", "sd_single_file"),
        ("llm-folder", "llm", "transformers"),
    ],
)
def test_cli_import_detects_each_format(samples: Path, name, kind, fmt, capsys):
    assert main(["models", "import", str(samples / name), "--json"]) == 0
    model = json.loads(capsys.readouterr().out)
    assert (model["kind"], model["format"]) == (kind, fmt)


@pytest.mark.parametrize(
    "name, message",
    [
        ("truncated.safetensors", "truncated"),
        ("garbage.safetensors", "not a safetensors file"),
        ("unknown.safetensors", "match no known model layout"),
        ("pickled.ckpt", "--weights-only"),
    ],
)
def test_cli_import_refuses_bad_files_with_their_reason(samples: Path, name, message, capsys, fresh_home):
    assert main(["models", "import", str(samples / name)]) == 1
    assert message in capsys.readouterr().err
    assert not any((fresh_home / "models").glob("*/*"))


def test_linked_import_leaves_the_original_untouched(samples: Path, registry: ModelRegistry, tmp_path: Path):
    original = tmp_path / "mine" / "sd15.safetensors"
    original.parent.mkdir()
    shutil.copy(samples / "sd15-checkpoint.safetensors", original)
    before = (digest(original), original.stat().st_mtime_ns)

    model = registry.import_path(original, link=True)
    assert model.linked and model.path.resolve() == original.resolve()
    assert registry.remove(model.id) == 0  # a link frees nothing
    assert original.is_file() and (digest(original), original.stat().st_mtime_ns) == before


def test_folder_of_checkpoints_imports_each_and_reports_refusals(samples: Path, registry: ModelRegistry, tmp_path):
    collection = tmp_path / "Stable-diffusion"
    collection.mkdir()
    for name in ("sd15-checkpoint.safetensors", "sdxl-checkpoint.safetensors", "truncated.safetensors"):
        shutil.copy(samples / name, collection / name)
    shutil.copytree(samples / "llm-folder", collection / "coder")
    (collection / "notes.txt").write_text("not a model")

    outcomes = import_collection(registry, collection)

    by_name = {o.path.name: o for o in outcomes}
    assert set(by_name) == {"sd15-checkpoint.safetensors", "sdxl-checkpoint.safetensors", "truncated.safetensors", "coder"}
    assert by_name["sdxl-checkpoint.safetensors"].model.variant == "sdxl"
    assert by_name["coder"].model.kind == "llm"
    assert "truncated" in by_name["truncated.safetensors"].error
    assert sorted(m.id for m in registry.list()) == ["coder", "sd15-checkpoint", "sdxl-checkpoint"]
    assert collection_members(samples / "llm-folder") == []  # a model folder is not a collection


def test_cli_imports_a_collection_and_exits_non_zero_on_a_refusal(samples: Path, tmp_path, capsys):
    collection = tmp_path / "checkpoints"
    collection.mkdir()
    shutil.copy(samples / "sd15-checkpoint.safetensors", collection / "a.safetensors")
    shutil.copy(samples / "garbage.safetensors", collection / "b.safetensors")
    assert main(["models", "import", str(collection)]) == 1
    out = capsys.readouterr()
    assert "Imported diffusion model a" in out.out and "Refused b.safetensors" in out.err


def save_sd_ckpt(path: Path, extra: object = 7) -> None:
    import torch

    weight = torch.ones(2, 2)
    torch.save(
        {
            "state_dict": {
                "model.diffusion_model.input_blocks.0.0.weight": weight,
                "cond_stage_model.transformer.x": weight,  # shares storage: written as its own tensor
            },
            "global_step": extra,
        },
        path,
    )


def test_pickle_checkpoint_only_on_request_and_installed_as_safetensors(registry: ModelRegistry, tmp_path):
    ckpt = tmp_path / "old-model.ckpt"
    save_sd_ckpt(ckpt)
    with pytest.raises(UnsupportedModelError, match="--weights-only"):
        registry.import_path(ckpt)
    with pytest.raises(UnsupportedModelError, match="cannot be linked"):
        registry.import_path(ckpt, link=True, weights_only=True)

    model = registry.import_path(ckpt, weights_only=True)

    assert (model.format, model.variant) == ("sd_single_file", "sd1")
    assert model.path.name == "old-model.safetensors"
    from safetensors.torch import load_file

    tensors = load_file(model.path)
    assert set(tensors) == {"model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.transformer.x"}
    assert ckpt.is_file() and not list(registry.root.glob(".converting-*"))


class RunsCode:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickle_that_would_run_code_is_refused(registry: ModelRegistry, tmp_path, capsys):
    ckpt = tmp_path / "evil.ckpt"
    save_sd_ckpt(ckpt, extra=RunsCode())

    with pytest.raises(UnsupportedModelError, match="refused: it holds Python objects"):
        registry.import_path(ckpt, weights_only=True)

    assert "this must never run" not in capsys.readouterr().out
    assert registry.list() == [] and not list(registry.root.glob(".converting-*"))


def test_pickle_only_transformers_folder_converts_with_weights_only(samples: Path, registry: ModelRegistry, tmp_path):
    import torch

    folder = tmp_path / "old-coder"
    shutil.copytree(samples / "llm-folder", folder)
    (folder / "model.safetensors").unlink()
    torch.save({"model.embed_tokens.weight": torch.zeros(4, 2)}, folder / "pytorch_model.bin")
    with pytest.raises(UnsupportedModelError, match="no .safetensors weights"):
        registry.import_path(folder)

    model = registry.import_path(folder, weights_only=True)

    assert model.format == "transformers"
    assert sorted(p.name for p in model.path.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]


def test_truncated_pickle_is_refused_with_its_reason(registry: ModelRegistry, tmp_path):
    ckpt = tmp_path / "cut.ckpt"
    save_sd_ckpt(ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(UnsupportedModelError, match="truncated or corrupt"):
        registry.import_path(ckpt, weights_only=True)


def test_ids_for_a_folder_of_models_are_one_per_model_or_refused(samples: Path, tmp_path, capsys) -> None:
    collection = tmp_path / "checkpoints"
    collection.mkdir()
    shutil.copy(samples / "sd15-checkpoint.safetensors", collection / "a.safetensors")
    shutil.copy(samples / "sdxl-checkpoint.safetensors", collection / "b.safetensors")
    shutil.copytree(samples / "llm-folder", collection / "coder")

    assert main(["models", "import", str(collection), "--id", "mine"]) == 1
    err = capsys.readouterr().err
    assert "checkpoints holds 3 models (a.safetensors, b.safetensors, coder/) but 1 --id was given" in err
    assert main(["models", "list", "--json"]) == 0 and json.loads(capsys.readouterr().out) == []  # nothing imported

    assert main(["models", "import", str(collection), "--id", "one", "--id", "two", "--id", "three"]) == 0
    capsys.readouterr()
    assert main(["models", "list", "--json"]) == 0
    rows = {row["id"]: Path(row["path"]).name for row in json.loads(capsys.readouterr().out)}
    assert rows == {"one": "a.safetensors", "two": "b.safetensors", "three": "model"}

    assert main(["models", "import", str(samples / "llm-folder"), "--id", "x", "--id", "y"]) == 1
    assert "one model: give at most one --id" in capsys.readouterr().err


def test_an_imported_diffusers_folder_is_named_after_its_model(ctx: AppContext, tiny_models, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "my-sd-turbo" / "diffusers"
    shutil.copytree(tiny_models("diffusion-tiny") / "diffusers", folder)
    model = ctx.registry.import_path(folder, kind="diffusion")
    assert model.id == "my-sd-turbo"
