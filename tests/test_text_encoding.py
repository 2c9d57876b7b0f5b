"""The onnxruntime text tower: parity with torch, the same answers, no torch on the text path,
and every way the export can be missing, stale or corrupt ending in a right answer from torch."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latentstudio import cli
from latentstudio.library import search_library
from latentstudio.models import onnx_exports as ox
from latentstudio.models.image_encoding import onnx_tower as image_tower
from latentstudio.models.text_encoding import onnx_tower
from latentstudio.models.clip_loader import load_installed_clip
from latentstudio.models.text_encoding.onnx_export import PARITY_PROMPTS, export_text_tower

QUERIES = ["a red circle", "a blue square", "a green triangle -a red circle", "yellow", "東京 🐶 café"]


@pytest.fixture
def tower(shapes):
    """(ctx, the clip-shapes model) of the shared indexed shapes library; indexing made the export."""
    ctx, _ = shapes
    return ctx, ctx.registry.get("shapes")


def _record(installed) -> dict:
    return ox.read_record(onnx_tower.TOWER.export_folder(installed))


def _top(ctx, query: str, k: int = 10) -> list[tuple[str, float]]:
    return [(h.path.name, h.score) for h in search_library(ctx, query, limit=k, min_score=-1.0)]


def _same(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> bool:
    """Same pictures in the same order, scores within float32 noise of the other tower's."""
    return [n for n, _ in got] == [n for n, _ in expected] and bool(
        np.allclose([s for _, s in got], [s for _, s in expected], atol=1e-3))


def _torch_only(patch: pytest.MonkeyPatch) -> None:
    """Both towers from torch, no export queued meanwhile (one would answer the next query)."""
    patch.setenv(onnx_tower.TOWER.choice_env, "torch")
    patch.setenv(image_tower.TOWER.choice_env, "torch")


def _torch_answers(ctx, monkeypatch) -> dict[str, list[tuple[str, float]]]:
    with monkeypatch.context() as m:
        _torch_only(m)
        return {q: _top(ctx, q) for q in QUERIES}


def test_export_parity_with_the_torch_tower(tower) -> None:
    _, installed = tower
    state = onnx_tower.status(installed)
    assert state.ready, state.reason
    record = _record(installed)
    assert record["versions"]["torch"] and record["versions"]["onnxruntime"]
    assert record["parity"]["min_cosine"] >= 0.999
    assert record["fingerprint"] == ox.fingerprint(installed)
    fast = onnx_tower.load_text_encoder(installed)
    clip = load_installed_clip(installed)
    prompts = list(PARITY_PROMPTS) + ["an unseen prompt about Ångström and 🎉", "Z" * 500]
    cosines = ox.cosines(fast.encode_text(prompts), clip.encode_text(prompts))
    assert cosines.min() >= 0.999, cosines


def test_fast_path_gives_the_torch_top_10(tower, monkeypatch) -> None:
    ctx, _ = tower
    expected = _torch_answers(ctx, monkeypatch)
    for query in QUERIES:
        assert _same(_top(ctx, query), expected[query]), query
    assert [e.key.split(":")[0] for e in ctx.engine.cpu_models.entries()] == ["clip-text-onnx"]


def test_cli_text_search_imports_no_torch(tower, fresh_home: Path) -> None:
    ctx, _ = tower
    expected = [name for name, _ in _top(ctx, "a red circle")]
    code = (
        "import json, sys\n"
        "from latentstudio import cli\n"
        "rc = cli.main(['search', 'a red circle', '--limit', '10', '--min-score', '-1', '--json'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'open_clip', 'torchvision', 'transformers'})\n"
        "print(json.dumps({'rc': rc, 'heavy': heavy}), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LATENT_STUDIO_HOME": str(fresh_home)})
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report == {"rc": 0, "heavy": []}, done.stderr
    assert [Path(h["path"]).name for h in json.loads(done.stdout)] == expected


def test_a_corrupt_export_is_detected_answered_by_torch_and_rebuilt(tower, monkeypatch, caplog) -> None:
    ctx, installed = tower
    expected = _torch_answers(ctx, monkeypatch)
    weights = onnx_tower.TOWER.export_folder(installed) / onnx_tower.TOWER.weights_file
    stat = weights.stat()
    with open(weights, "r+b") as fh:  # flip bytes in the middle of the weights: same size, a new time
        fh.seek(stat.st_size // 2)
        chunk = fh.read(4096)
        fh.seek(stat.st_size // 2)
        fh.write(bytes(b ^ 0xFF for b in chunk))
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with caplog.at_level(logging.WARNING, logger="latentstudio.models.onnx_exports"):
        got = _top(ctx, QUERIES[0])
    assert got == expected[QUERIES[0]]
    assert any("SHA-256" in r.getMessage() and "torch" in r.getMessage() for r in caplog.records)
    export = ctx.clip_exports.pending("shapes")
    assert export is not None
    export.result(120)
    state = onnx_tower.status(installed)
    assert state.ready and ox.files_sha256(onnx_tower.TOWER.export_folder(installed), onnx_tower.TOWER) == state.sha256
    assert _same(_top(ctx, QUERIES[1]), expected[QUERIES[1]])


def test_files_are_hashed_only_when_their_size_or_time_changed(tower, monkeypatch) -> None:
    _, installed = tower
    hashed = []
    real = ox.files_sha256
    monkeypatch.setattr(ox, "files_sha256", lambda folder, t: hashed.append(folder) or real(folder, t))
    onnx_tower.load_text_encoder(installed)
    assert hashed == []  # the stamps recorded at export still hold
    weights = onnx_tower.TOWER.export_folder(installed) / onnx_tower.TOWER.weights_file
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 1_000_000))  # copied back
    onnx_tower.load_text_encoder(installed)
    assert len(hashed) == 1 and _record(installed)["stamps"] == ox.file_stamps(weights.parent, onnx_tower.TOWER)
    onnx_tower.load_text_encoder(installed)
    assert len(hashed) == 1  # the new stamps were recorded with the matching hash


def test_probes_run_again_only_for_changed_files_or_another_runtime(tower, monkeypatch) -> None:
    _, installed = tower
    runs = []
    real = ox.check_probes
    monkeypatch.setattr(ox, "check_probes", lambda *a: runs.append(1) or real(*a))
    onnx_tower.load_text_encoder(installed)
    assert runs == []  # they passed at export, with these files, on this runtime
    monkeypatch.setattr(ox, "runtime", lambda: "onnxruntime 99.0 on this machine")
    onnx_tower.load_text_encoder(installed)
    onnx_tower.load_text_encoder(installed)
    assert runs == [1] and _record(installed)["probed_with"] == "onnxruntime 99.0 on this machine"
    weights = onnx_tower.TOWER.export_folder(installed) / onnx_tower.TOWER.weights_file
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 1_000_000))
    onnx_tower.load_text_encoder(installed)
    assert runs == [1, 1]  # files hashed again: probed again


def test_disagreeing_probe_vectors_mean_torch(tower, monkeypatch, caplog) -> None:
    ctx, installed = tower
    expected = _torch_answers(ctx, monkeypatch)
    folder = onnx_tower.TOWER.export_folder(installed)
    record = _record(installed)
    record["probe"]["vectors"] = (-np.asarray(record["probe"]["vectors"])).tolist()
    record["probed_with"] = "onnxruntime 0.1 on another machine"  # a new runtime: the probes run
    ox.write_record(folder, record)
    with caplog.at_level(logging.WARNING, logger="latentstudio.models.onnx_exports"):
        assert _top(ctx, QUERIES[2]) == expected[QUERIES[2]]
    assert any("probe vectors disagree" in r.getMessage() for r in caplog.records)
    assert _record(installed)["status"] == ox.INVALID


def test_changed_model_files_make_the_export_out_of_date(tower, monkeypatch) -> None:
    ctx, installed = tower
    assert onnx_tower.status(installed).ready
    real = ox.fingerprint(installed)
    monkeypatch.setattr(ox, "fingerprint", lambda inst: [[n, size + 1, t] for n, size, t in real])
    state = onnx_tower.status(installed)
    assert not state.ready and state.exportable and "out of date" in state.reason
    with monkeypatch.context() as m:
        _torch_only(m)
        expected = _top(ctx, QUERIES[0])
    assert _top(ctx, QUERIES[0]) == expected  # answered by torch: the loader is never asked
    export = ctx.clip_exports.pending("shapes")
    assert export is not None and export.result(120)["text"].ready
    assert _record(installed)["fingerprint"] == ox.fingerprint(installed)


def test_a_failed_parity_check_is_recorded_and_not_retried(ctx, tiny_models, monkeypatch) -> None:
    installed = ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="tiny", link=True)
    clip = load_installed_clip(installed)
    monkeypatch.setattr(ox, "cosines", lambda a, b: np.zeros(len(a)))
    state = export_text_tower(clip, installed)
    assert not state.ready and not state.exportable and "parity check failed" in state.reason
    assert not (onnx_tower.TOWER.export_folder(installed) / onnx_tower.TOWER.weights_file).exists()
    monkeypatch.setattr(ox, "exporting_versions", lambda: {"torch": "another"})
    assert onnx_tower.status(installed).exportable  # a new torch or onnxruntime may do better


def test_models_without_the_fast_path_say_why(ctx, tiny_models, tmp_path: Path, monkeypatch) -> None:
    source = tiny_models("clip-tiny")
    hf = tmp_path / "hf-text"
    hf.mkdir()
    config = json.loads((source / "open_clip_config.json").read_text())
    config["model_cfg"]["text_cfg"]["hf_tokenizer_name"] = "some/tokenizer"
    (hf / "open_clip_config.json").write_text(json.dumps(config))
    (hf / "open_clip_model.safetensors").symlink_to(source / "open_clip_model.safetensors")
    installed = ctx.registry.import_path(hf, kind="clip", model_id="hf-text", link=True)
    state = onnx_tower.status(installed)
    assert not state.ready and not state.exportable and "Hugging Face tokenizer" in state.reason

    plain = ctx.registry.import_path(source, kind="clip", model_id="plain", link=True)
    assert "not prepared yet" in onnx_tower.status(plain).reason
    real = ox.available
    monkeypatch.setattr(ox, "available", lambda name: name != "onnxruntime" and real(name))
    state = onnx_tower.status(plain)
    assert not state.exportable and "onnxruntime is not installed" in state.reason


def test_doctor_reports_the_text_tower(tower, capsys) -> None:
    assert cli.main(["doctor", "--json"]) == 0
    tower = json.loads(capsys.readouterr().out)["text_search"]["shapes"]
    assert tower["ready"] and "onnxruntime text tower" in tower["reason"]


def test_warm_up_loads_the_text_tower_and_vectors(tower) -> None:
    from latentstudio.library import SearchRequest, submit_search, submit_warmup

    ctx, installed = tower
    reads = ctx.library.full_reads
    assert submit_warmup(ctx).result(60) is True
    assert [e.key.split(":")[0] for e in ctx.engine.cpu_models.entries()] == ["clip-text-onnx"]
    events = []
    search = submit_search(ctx, SearchRequest(text="a red circle", min_score=-1.0), on_event=events.append)
    assert search.result(30)
    assert not [e for e in events if e.kind.name == "PROGRESS"]  # nothing left to load
    assert ctx.library.full_reads == reads + 1  # the vectors were read once, by the warm-up


def test_warm_up_without_vectors_loads_nothing(ctx, tiny_models) -> None:
    from latentstudio.library import submit_warmup

    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    assert submit_warmup(ctx).result(60) is False
    assert not ctx.engine.cpu_models.entries()


def test_an_export_cut_short_leaves_nothing_once_the_next_one_runs(ctx, tiny_models) -> None:
    """A window closed mid-export ends its process: the staging folder stays until the next export."""
    installed = ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="tiny")  # a copy
    final = onnx_tower.TOWER.export_folder(installed)
    stale = final.parent / f".{final.name}-k2j3h4x"
    stale.mkdir()
    (stale / onnx_tower.TOWER.onnx_file).write_bytes(b"half a graph")
    (final.parent / f".{final.name}-old").mkdir()
    state = export_text_tower(load_installed_clip(installed), installed)
    assert state.ready, state.reason
    assert not [p.name for p in final.parent.iterdir() if p.name.startswith(f".{final.name}")]
    assert onnx_tower.load_text_encoder(installed).encode_text(["a red circle"]).shape[0] == 1
