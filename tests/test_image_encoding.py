"""The onnxruntime picture tower: indexing on the CPU without torch, the same answers as the torch
tower, exports made once per model as their own job, and a corrupt export ending in torch."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from latentstudio import cli
from latentstudio.engine import Priority
from latentstudio.engine import device as device_module
from latentstudio.library import add_folders, search_library, submit_index
from latentstudio.models import onnx_exports as ox
from latentstudio.models.clip_exports import JOB_NAME
from latentstudio.models.clip_loader import load_installed_clip
from latentstudio.models.image_encoding import onnx_tower
from latentstudio.models.text_encoding import onnx_tower as text_tower
from tests.support.shape_pictures import write_shapes

QUERIES = ["a red circle", "a blue square", "a green triangle", "yellow", "a red square -a red circle"]


def _top(ctx, query: str, model: str, k: int = 10) -> list[tuple[str, float]]:
    return [(h.path.name, h.score) for h in search_library(ctx, query, limit=k, min_score=-1.0, model_id=model)]


def _twin(ctx, tiny_models, model_id: str):
    """The shapes model again under another id, with the shapes model's exports (same files, so
    they are current for it): its pictures will be encoded by onnxruntime."""
    installed = ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id=model_id, link=True)
    source = ctx.registry.get("shapes")
    for tower in (onnx_tower.TOWER, text_tower.TOWER):
        shutil.copytree(tower.export_folder(source), tower.export_folder(installed))  # copy2: same stamps
    return installed


def test_export_parity_with_the_torch_tower_on_real_pictures(shapes) -> None:
    ctx, photos = shapes
    installed = ctx.registry.get("shapes")
    state = onnx_tower.status(installed)
    assert state.ready, state.reason
    record = ox.read_record(onnx_tower.TOWER.export_folder(installed))
    assert record["parity"]["min_cosine"] >= 0.999
    fast = onnx_tower.load_image_encoder(installed)
    clip = load_installed_clip(installed)
    assert fast.spec == clip.spec and record["spec"]["size"] == list(clip.spec.size)
    from PIL import Image

    pixels = np.stack([clip.spec.to_pixels(Image.open(p).convert("RGB")) for p in sorted(photos.iterdir())[:24]])
    cosines = ox.cosines(fast.encode_pixels(pixels), clip.encode_pixels(pixels))
    assert cosines.min() >= 0.999, cosines.min()


def test_onnx_and_torch_picture_towers_give_the_same_top_10(shapes, tiny_models) -> None:
    ctx, _ = shapes
    _twin(ctx, tiny_models, "shapes-onnx")
    report = submit_index(ctx, "shapes-onnx").result(120)
    assert (report.encoded, report.encoder) == (72, "onnxruntime")
    assert ctx.clip_exports.pending("shapes-onnx") is None  # nothing to export: no torch model ran
    for query in QUERIES:
        torch_top, onnx_top = _top(ctx, query, "shapes"), _top(ctx, query, "shapes-onnx")
        assert [n for n, _ in onnx_top] == [n for n, _ in torch_top], query
        assert np.allclose([s for _, s in onnx_top], [s for _, s in torch_top], atol=1e-3), query


def test_a_search_during_indexing_runs_once_the_batch_ahead_is_encoded(shapes, tiny_models, monkeypatch) -> None:
    ctx, _ = shapes
    _twin(ctx, tiny_models, "shapes-ahead")
    lock, running, started = threading.Lock(), [0], []
    seen: list[tuple[int, int]] = []  # (batches started, runs under way) when the search ran
    run, start = onnx_tower.OnnxImageEncoder.run, onnx_tower.OnnxImageEncoder.start_encoding

    def counted_run(self, batch):
        with lock:
            running[0] += 1
        try:
            time.sleep(0.2)  # a real model's pace: a run is still under way when the batch before is stored
            return run(self, batch)
        finally:
            with lock:
                running[0] -= 1

    def counted_start(self, pixels):
        started.append(len(pixels))
        if len(started) == 1:  # the search arrives while the first batch encodes
            ctx.engine.submit(lambda job: seen.append((len(started), running[0])), Priority.INTERACTIVE)
        return start(self, pixels)

    monkeypatch.setattr(onnx_tower.OnnxImageEncoder, "run", counted_run)
    monkeypatch.setattr(onnx_tower.OnnxImageEncoder, "start_encoding", counted_start)
    report = submit_index(ctx, "shapes-ahead", batch_size=8).result(120)
    assert (report.encoded, report.encoder) == (72, "onnxruntime")
    # It ran at the first checkpoint: the first batch stored, the second started ahead and finished.
    assert seen == [(2, 0)]
    assert started == [8] * 9


def test_the_first_index_uses_torch_then_exports_both_towers_as_their_own_job(ctx, tiny_models, tmp_path) -> None:
    ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="tiny", link=True)
    photos = write_shapes(tmp_path / "photos", per_class=1, seed=5)
    add_folders(ctx, [photos])
    ctx.library.scan()
    names = []
    ctx.engine.add_listener(lambda event: names.append(event.handle.name) if event.handle is not None else None)
    first = submit_index(ctx, "tiny").result(120)
    assert first.encoder == "torch" and first.encoded > 0
    export = ctx.clip_exports.pending("tiny")
    assert export is not None
    statuses = export.result(120)
    assert sorted(statuses) == ["picture", "text"] and all(s.ready for s in statuses.values())
    assert JOB_NAME in names
    write_shapes(photos, per_class=1, seed=6, size=80)  # new pictures (other names, other pixels)
    ctx.library.scan()
    second = submit_index(ctx, "tiny").result(120)
    assert second.encoder == "onnxruntime" and second.encoded > 0
    assert ctx.clip_exports.pending("tiny") is None


def test_cli_index_on_the_cpu_imports_no_torch(shapes, tiny_models, tmp_path, fresh_home) -> None:
    ctx, photos = shapes
    installed = _twin(ctx, tiny_models, "shapes-cpu")
    ctx.registry.set_default(installed.id)
    # "auto" as a user has it; on a machine with a GPU driver and a CUDA torch, the CPU chosen in Settings
    ctx.settings.update(device="auto" if device_module.gpu_possible("auto") is None else "cpu")
    ctx.save_settings()
    new = write_shapes(tmp_path / "new", per_class=1, seed=77)
    code = (
        "import json, sys\n"
        "from latentstudio import cli\n"
        f"rc = cli.main(['index', {str(new)!r}, '--json'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'open_clip', 'torchvision', 'transformers'})\n"
        "print(json.dumps({'rc': rc, 'heavy': heavy}), file=sys.stderr)\n"
    )
    env = {**os.environ, "LATENT_STUDIO_HOME": str(fresh_home)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report == {"rc": 0, "heavy": []}, done.stderr
    summary = json.loads(done.stdout)
    # the library's pictures and the new ones: the twin model had no vectors yet
    assert summary["indexed"] == len(list(photos.iterdir())) + len(list(new.iterdir()))
    assert summary["encoder"] == "onnxruntime"


def test_a_corrupt_picture_export_is_answered_by_torch_and_rebuilt(shapes, tiny_models, tmp_path, caplog) -> None:
    ctx, _ = shapes
    installed = _twin(ctx, tiny_models, "shapes-bad")
    weights = onnx_tower.TOWER.export_folder(installed) / onnx_tower.TOWER.weights_file
    data = bytearray(weights.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4096] = bytes(b ^ 0xFF for b in data[len(data) // 2: len(data) // 2 + 4096])
    weights.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="latentstudio.models.onnx_exports"):
        report = submit_index(ctx, "shapes-bad").result(120)
    assert report.encoder == "torch" and report.encoded == 72
    assert any("SHA-256" in r.getMessage() and "picture tower" in r.getMessage() for r in caplog.records)
    statuses = ctx.clip_exports.pending("shapes-bad").result(120)
    assert list(statuses) == ["picture"] and statuses["picture"].ready
    fast = onnx_tower.load_image_encoder(installed)
    assert fast.encode_pixels(onnx_tower.patterned_pictures(fast.spec.size, 3)).shape == (3, fast.embed_dim)


def test_doctor_says_which_picture_tower_indexes(shapes, capsys) -> None:
    assert cli.main(["doctor", "--json"]) == 0
    tower = json.loads(capsys.readouterr().out)["picture_encoding"]["shapes"]
    assert tower["ready"] and "onnxruntime picture tower" in tower["reason"]


@pytest.mark.parametrize(("preference", "build", "driver", "gpu"), [
    ("cpu", "CUDA 13.0", True, False),
    ("auto", None, True, False),
    ("auto", "CUDA 13.0", False, False),
    ("auto", "CUDA 13.0", True, True),
    ("cuda", "ROCm 6.2", True, True),
])
def test_a_gpu_is_ruled_out_without_importing_torch(monkeypatch, preference, build, driver, gpu) -> None:
    monkeypatch.setattr(device_module.sys, "platform", "linux")
    monkeypatch.setattr(device_module, "_torch_gpu_build", lambda: build)
    monkeypatch.setattr(device_module, "_gpu_driver_present", lambda: driver)
    reason = device_module.gpu_possible(preference)
    assert (reason is not None) == gpu
    if gpu:
        assert build in reason


def test_the_torch_build_is_read_from_its_version_file() -> None:
    import torch

    build = device_module._torch_gpu_build()
    if torch.version.cuda:
        assert build == f"CUDA {torch.version.cuda}"
    elif torch.version.hip:
        assert build == f"ROCm {torch.version.hip}"
    else:
        assert build is None


def test_an_example_picture_is_encoded_without_torch_on_the_cpu(shapes, tiny_models, tmp_path, monkeypatch) -> None:
    ctx, _ = shapes
    example = sorted(write_shapes(tmp_path / "examples", per_class=1, seed=99).iterdir())[0]  # not in the library
    with monkeypatch.context() as m:
        m.setenv(onnx_tower.TOWER.choice_env, "torch")
        m.setenv(text_tower.TOWER.choice_env, "torch")
        expected = [(h.path.name, h.score) for h in search_library(ctx, image=example, limit=10, min_score=-1.0)]
        ctx.engine.models.clear()
    got = [(h.path.name, h.score) for h in search_library(ctx, image=example, limit=10, min_score=-1.0)]
    assert [n for n, _ in got] == [n for n, _ in expected]
    assert np.allclose([s for _, s in got], [s for _, s in expected], atol=1e-3)
    assert not ctx.engine.models.entries()  # the torch model was not loaded again
    assert sorted(e.key.split(":")[0] for e in ctx.engine.cpu_models.entries()) == ["clip-image-onnx", "clip-text-onnx"]
