"""The `text-embedding` model kind: sentence-transformers folders detected from their content,
imported like every kind, loaded offline without code from the folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from latentstudio.cli import main
from latentstudio.engine import DeviceInfo
from latentstudio.models import ModelRegistry, UnsupportedModelError, detect_model
from latentstudio.paths import Paths
from latentstudio.projects.embedder import load_text_embedder
from tests.support.tiny_text_embedding import DIMENSION


@pytest.fixture
def folder(tiny_models: Callable[[str], Path]) -> Path:
    return tiny_models("text-embedding-tiny")


def test_a_sentence_transformers_folder_is_a_text_embedding_model(folder: Path) -> None:
    detected = detect_model(folder)
    assert (detected.kind, detected.format) == ("text-embedding", "sentence_transformers")
    assert detected.details["dimension"] == DIMENSION and detected.details["normalized"]


def test_a_modernbert_folder_with_cls_pooling_loads_offline_without_its_own_code(
    tiny_models: Callable[[str], Path]
) -> None:
    """The layout of the stronger code-capable embedders (granite-embedding-small-english-r2,
    gte-modernbert-base): transformers' own ModernBERT, no auto_map, CLS pooling."""
    folder = tiny_models("text-embedding-modernbert-tiny")
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["ModernBertModel"] and "auto_map" not in config
    detected = detect_model(folder)
    assert (detected.kind, detected.format) == ("text-embedding", "sentence_transformers")
    assert detected.details["dimension"] == DIMENSION
    embedder = load_text_embedder(folder, DeviceInfo.cpu("test"), "modernbert")
    vectors = embedder.encode(["def parse_config(path):", "class Loader:", "def parse_config(path):"])
    assert vectors.shape == (3, DIMENSION) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2], atol=1e-6) and not np.allclose(vectors[0], vectors[1])


def test_the_older_folder_layout_is_detected_too(folder: Path, tmp_path: Path) -> None:
    """all-MiniLM-L6-v2 as published: module types of sentence-transformers 2.x, word_embedding_dimension."""
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (old / "modules.json").write_text(json.dumps(modules))
    (old / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 384,
                                                               "pooling_mode_mean_tokens": True}))
    assert detect_model(old).details["dimension"] == 384


@pytest.mark.parametrize("change, message", [
    ("module", "code the folder would have to run"),
    ("auto_map", "needs code from the folder"),
    ("pickle", "no .safetensors weights"),
    ("pooling", "Transformer and a Pooling module"),
])
def test_folders_that_would_run_their_own_code_or_pickles_are_refused(
    folder: Path, tmp_path: Path, change: str, message: str
) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    modules = json.loads((bad / "modules.json").read_text())
    if change == "module":
        modules.append({"idx": 3, "name": "3", "path": "3_Custom", "type": "custom_code.Layer"})
    elif change == "pooling":
        modules = modules[:1]
    elif change == "auto_map":
        config = json.loads((bad / "config.json").read_text())
        config["auto_map"] = {"AutoModel": "modeling_custom.Model"}
        (bad / "config.json").write_text(json.dumps(config))
    else:
        (bad / "model.safetensors").rename(bad / "pytorch_model.bin")
    (bad / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(UnsupportedModelError, match=message):
        detect_model(bad)


def test_it_imports_by_cli_and_loads_offline_with_unit_vectors(
    folder: Path, paths: Paths, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["models", "import", str(folder), "--kind", "text-embedding", "--link"]) == 0
    installed = ModelRegistry(paths.models).resolve("text-embedding")
    assert installed.format == "sentence_transformers"
    assert main(["models", "import", str(folder), "--kind", "llm", "--link"]) == 1
    assert "not llm" in capsys.readouterr().err

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = load_text_embedder(installed.path, DeviceInfo.cpu("tests"), installed.id)
    vectors = embedder.encode(["def parse_config(path): ...", "class HistoryStore: ...", "def parse_config(path): ..."])
    assert vectors.shape == (3, DIMENSION) and embedder.dimension == DIMENSION
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2]) and not np.allclose(vectors[0], vectors[1])
