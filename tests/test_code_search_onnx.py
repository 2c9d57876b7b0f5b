"""The onnxruntime text-embedding model: parity with torch for both tiny layouts (BERT with mean
pooling, ModernBERT with CLS pooling), a CLI code search without torch, transformers or
sentence-transformers, and every way the export can be missing, stale or corrupt ending in the
torch model's answer and a new export."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from latentstudio import cli
from latentstudio.engine import DeviceInfo
from latentstudio.models import InstalledModel
from latentstudio.models import onnx_exports as ox
from latentstudio.projects import onnx_embedder
from latentstudio.projects.cli import project_hits
from latentstudio.projects.embedder import load_text_embedder
from latentstudio.projects.onnx_export import PARITY_TEXTS, export_embedder
from latentstudio.projects.service import open_store, submit_index

MODELS = {"text-embedding-tiny": ["input_ids", "attention_mask", "token_type_ids"],
          "text-embedding-modernbert-tiny": ["input_ids", "attention_mask"]}
QUERY = "what does parse_config return?"
UNSEEN = ["def unseen_function(argument): return argument ** 2  # Ångström, ½, 東京 🎉",
          "\n".join(f"    value_{k} = compute(value_{k - 1}, {k})" for k in range(1, 400))]


def _project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "config.py").write_text(
        'import json\n\n\ndef parse_config(path):\n    """Read the settings file."""\n'
        "    return json.loads(open(path).read())\n\n\nclass HistoryStore:\n"
        "    def add(self, entry):\n        return entry\n")
    (root / "pkg" / "render.js").write_text("export function renderView(view) {\n  return view.html;\n}\n")
    (root / "README.md").write_text("# Demo\n\nA project to search: café, 東京.\n")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return _project(tmp_path / "project")


def _import(ctx, tiny_models: Callable[[str], Path], name: str = "text-embedding-tiny", link: bool = True):
    return ctx.registry.import_path(tiny_models(name), kind="text-embedding", model_id="te", link=link)


def _hits(ctx, project: Path) -> list[tuple[str, int, float]]:
    return [(h.path, h.start_line, h.score) for h in project_hits(ctx, project, QUERY, 10, None, show_progress=False)]


def _same(got: list[tuple[str, int, float]], expected: list[tuple[str, int, float]]) -> bool:
    """The same chunks in the same order, scores within float32 noise of the other path's."""
    return [g[:2] for g in got] == [e[:2] for e in expected] and bool(
        np.allclose([g[2] for g in got], [e[2] for e in expected], atol=1e-4))


def _exported(ctx, project: Path) -> list[tuple[str, int, float]]:
    """Index and search with the torch model (the export is queued after it), wait for the export;
    the torch answer."""
    expected = _hits(ctx, project)
    export = ctx.embedder_exports.pending("te")
    assert export is not None
    assert export.result(120).ready
    return expected


def _flip_bytes(path: Path) -> None:
    """Same size, other bytes in the middle, a new time."""
    stat = path.stat()
    with open(path, "r+b") as fh:
        fh.seek(stat.st_size // 2)
        chunk = fh.read(4096)
        fh.seek(stat.st_size // 2)
        fh.write(bytes(b ^ 0xFF for b in chunk))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_export_parity_with_the_torch_model(ctx, tiny_models, name: str) -> None:
    installed = _import(ctx, tiny_models, name)
    assert "not prepared yet" in onnx_embedder.status(installed).reason
    torch_model = load_text_embedder(installed.path, DeviceInfo.cpu("test"), installed.id)
    state = export_embedder(torch_model, installed)
    assert state.ready, state.reason
    record = ox.read_record(onnx_embedder.TOWER.export_folder(installed))
    assert record["inputs"] == MODELS[name] and record["tokenizer"]["max_seq_length"] == 128
    assert record["parity"]["min_cosine"] >= 0.999 and record["fingerprint"] == ox.fingerprint(installed)
    assert {"model.safetensors", "tokenizer.json", "1_Pooling/config.json"} <= {f[0] for f in record["fingerprint"]}
    assert (onnx_embedder.TOWER.export_folder(installed) / "embedder.onnx.data").stat().st_size > 50_000
    fast = onnx_embedder.load_onnx_embedder(installed)
    texts = list(PARITY_TEXTS) + UNSEEN
    got, expected = fast.encode(texts, batch_size=3), torch_model.encode(texts)
    assert got.shape == expected.shape and np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert ox.cosines(got, expected).min() >= 0.999
    # Random tiny weights give close vectors for any text (ModernBERT's CLS: cosine 0.99999, the
    # largest difference between two texts' values under 1e-3), so the paths must also agree far
    # more closely than two different texts do.
    gap = np.abs(got - expected).max()
    assert gap < 3e-5 and gap < 0.1 * np.abs(expected[0] - expected[1]).max(), gap


def test_cli_code_search_after_the_export_imports_no_torch(ctx, tiny_models, project: Path) -> None:
    _import(ctx, tiny_models)
    expected = _exported(ctx, project)
    code = (
        "import json, sys\n"
        "from latentstudio import cli\n"
        f"rc = cli.main(['code-search', {QUERY!r}, '--project', {str(project)!r}, '--json'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'sentence_transformers'})\n"
        "print(json.dumps({'rc': rc, 'heavy': heavy}), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report == {"rc": 0, "heavy": []}, done.stderr
    hits = [(h["path"], h["start_line"], h["score"]) for h in json.loads(done.stdout)["hits"]]
    assert hits and _same(hits, expected)
    assert "Preparing fast code search" not in done.stderr


def test_indexing_on_the_cpu_uses_the_export_once_it_is_ready(ctx, tiny_models, project: Path) -> None:
    installed = _import(ctx, tiny_models)
    _exported(ctx, project)
    (project / "pkg" / "more.py").write_text("def added(x):\n    return x * 2\n")
    store = open_store(ctx.paths.home, project.resolve())
    report = submit_index(ctx.engine, ctx.registry, store, project.resolve(), exports=ctx.embedder_exports).result(60)
    assert report.embedded == 1
    assert [e.key.split(":")[0] for e in ctx.engine.cpu_models.entries()] == ["text-embedding-onnx"]
    assert ctx.embedder_exports.pending(installed.id) is None  # nothing more to export


def test_a_corrupt_export_is_detected_answered_by_torch_and_made_again(ctx, tiny_models, project: Path,
                                                                     caplog) -> None:
    installed = _import(ctx, tiny_models)
    expected = _exported(ctx, project)
    folder = onnx_embedder.TOWER.export_folder(installed)
    _flip_bytes(folder / onnx_embedder.TOWER.weights_file)
    with caplog.at_level(logging.WARNING, logger="latentstudio.models.onnx_exports"):
        assert _same(_hits(ctx, project), expected)
    assert any("SHA-256" in r.getMessage() and "torch" in r.getMessage() for r in caplog.records)
    assert ox.read_record(folder)["status"] == ox.INVALID
    assert [e.key.split(":")[0] for e in ctx.engine.models.entries()] == ["text-embedding"]  # torch answered
    export = ctx.embedder_exports.pending(installed.id)
    assert export is not None and export.result(120).ready
    state = onnx_embedder.status(installed)
    assert state.sha256 == ox.files_sha256(folder, onnx_embedder.TOWER)
    assert _same(_hits(ctx, project), expected)
    assert "text-embedding-onnx" in [e.key.split(":")[0] for e in ctx.engine.cpu_models.entries()]


def test_disagreeing_probe_vectors_mean_torch(ctx, tiny_models, project: Path, caplog) -> None:
    installed = _import(ctx, tiny_models)
    expected = _exported(ctx, project)
    folder = onnx_embedder.TOWER.export_folder(installed)
    record = ox.read_record(folder)
    record["probe"]["vectors"] = (-np.asarray(record["probe"]["vectors"])).tolist()
    record["probed_with"] = "onnxruntime 0.1 on another machine"  # a new runtime: the probes run
    ox.write_record(folder, record)
    with caplog.at_level(logging.WARNING, logger="latentstudio.models.onnx_exports"):
        assert _same(_hits(ctx, project), expected)
    assert any("probe vectors disagree" in r.getMessage() for r in caplog.records)
    assert ox.read_record(folder)["status"] == ox.INVALID


def test_replaced_model_files_make_the_export_stale_torch_answers_and_it_is_made_again(
    ctx, tiny_models, project: Path, monkeypatch
) -> None:
    installed = _import(ctx, tiny_models, link=False)  # a copy: its files are changed below
    expected = _exported(ctx, project)
    weights = installed.path / "model.safetensors"
    data = weights.read_bytes()
    weights.unlink()
    weights.write_bytes(data)  # replaced by the same weights: a new file, a new time
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 1_000_000))
    state = onnx_embedder.status(installed)
    assert not state.ready and state.exportable and "out of date" in state.reason

    def never(*args, **kwargs):
        raise AssertionError("a stale export must not be loaded")

    with monkeypatch.context() as m:
        m.setattr(onnx_embedder, "load_onnx_embedder", never)
        assert _same(_hits(ctx, project), expected)
    export = ctx.embedder_exports.pending(installed.id)
    assert export is not None and export.result(120).ready
    record = ox.read_record(onnx_embedder.TOWER.export_folder(installed))
    assert record["fingerprint"] == ox.fingerprint(installed)
    assert _same(_hits(ctx, project), expected)


def test_a_model_without_tokenizer_json_runs_on_torch_and_says_why(ctx, tiny_models, project: Path, tmp_path: Path,
                                                                  capsys, caplog) -> None:
    folder = tmp_path / "no-tokenizer-json"
    shutil.copytree(tiny_models("text-embedding-tiny"), folder)
    vocab = json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"]
    (folder / "vocab.txt").write_text("".join(f"{token}\n" for token, _ in sorted(vocab.items(), key=lambda kv: kv[1])))
    (folder / "tokenizer.json").unlink()
    installed = ctx.registry.import_path(folder, kind="text-embedding", model_id="te", link=True)
    state = onnx_embedder.status(installed)
    assert not state.ready and not state.exportable and "no tokenizer.json" in state.reason
    with caplog.at_level(logging.INFO, logger="latentstudio.projects.embedder_choice"):
        assert _hits(ctx, project)
    assert any("runs on torch" in r.getMessage() and "tokenizer.json" in r.getMessage() for r in caplog.records)
    assert ctx.embedder_exports.pending(installed.id) is None
    assert not onnx_embedder.TOWER.export_folder(installed).exists()
    assert cli.main(["doctor"]) == 0
    assert "Code search with te: torch text-embedding model: it has no tokenizer.json" in capsys.readouterr().out


def test_doctor_reports_the_fast_code_search(ctx, tiny_models, project: Path, capsys) -> None:
    installed = _import(ctx, tiny_models)
    assert cli.main(["doctor", "--json"]) == 0
    assert "not prepared yet" in json.loads(capsys.readouterr().out)["code_search"]["te"]["reason"]
    _exported(ctx, project)
    assert cli.main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["code_search"]["te"]
    assert report["ready"] and "onnxruntime text-embedding model" in report["reason"]
    _flip_bytes(onnx_embedder.TOWER.export_folder(installed) / onnx_embedder.TOWER.weights_file)
    assert cli.main(["doctor"]) == 0
    assert "Code search with te: torch text-embedding model: the export failed its check" in capsys.readouterr().out


def test_the_cli_waits_for_the_export_once(ctx, tiny_models, project: Path, capsys) -> None:
    installed: InstalledModel = _import(ctx, tiny_models)
    assert cli.main(["code-search", QUERY, "--project", str(project), "--json"]) == 0
    first = capsys.readouterr()
    assert "Preparing fast code search" in first.err and json.loads(first.out)["hits"]
    assert onnx_embedder.status(installed).ready
    assert cli.main(["code-search", QUERY, "--project", str(project), "--json"]) == 0
    second = capsys.readouterr()
    assert "Preparing fast code search" not in second.err
    assert [h["path"] for h in json.loads(second.out)["hits"]] == [h["path"] for h in json.loads(first.out)["hits"]]
