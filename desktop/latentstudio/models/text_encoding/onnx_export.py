"""Export a CLIP text tower to ONNX for the torch-free query path (`onnx_tower`), with a parity check.

torch 2.14's `torch.onnx.export` defaults to the torch.export-based exporter (`dynamo=True`),
which needs onnxscript and onnx-ir besides onnx and took 3.0 s on the tiny test model; the
TorchScript exporter (`dynamo=False`, deprecated but present in every torch this project allows)
needs only onnx and took 0.8 s. Both gave the same vectors; this uses the TorchScript exporter.

The export is written to a staging folder, checked against the torch tower (cosine ≥ 0.999 on
every parity prompt, run by onnxruntime) and only then moved into place; a failed check is
recorded so the same files and versions are not exported again, and the torch tower is used.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..clip_bpe import ClipBpeTokenizer
from ..clip_loader import ClipModel, load_installed_clip
from ..registry import InstalledModel
from . import onnx_tower

log = logging.getLogger(__name__)

OPSET = 17
PARITY_PROMPTS = (
    "a red circle",
    "a photo of a dog",
    "",
    "A CAT sitting on a windowsill, at sunset!!!",
    "café, crème brûlée and naïve art",
    "東京タワーの夜景",
    "🐶 🎉 party time",
    "a blue square -a green triangle",
    " ".join(["a long description of a crowded beach with umbrellas and boats"] * 10),
    "x" * 250,
)


def _cpu_float32(clip: ClipModel, installed: InstalledModel) -> ClipModel:
    """The torch tower to export: the loaded one when it is on the CPU in float32, else a copy
    loaded so (exported graphs are device-neutral; float16 on the CPU is not what runs there)."""
    import torch

    if clip.device.type == "cpu" and clip.dtype == torch.float32:
        return clip
    return load_installed_clip(installed, torch.device("cpu"), torch.float32)


def export_text_tower(clip: ClipModel, installed: InstalledModel) -> onnx_tower.FastTextStatus:
    """Export `clip`'s text tower into the model's folder and check it; the resulting status."""
    unsupported = onnx_tower.unsupported_reason(installed)
    if unsupported:
        return onnx_tower.FastTextStatus(False, False, f"torch text tower: {unsupported}")
    versions = onnx_tower.exporting_versions()
    files = onnx_tower.fingerprint(installed)
    final = onnx_tower.export_folder(installed)
    # Exports run one at a time on the inference thread: any staging folder already here was left
    # by a process that ended mid-export (the window ends its process soon after close).
    for stale in final.parent.glob(f".{final.name}-*"):
        if stale.is_dir():
            log.info("removing %s, left by an export that did not finish", stale)
            shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    started = time.perf_counter()
    try:
        try:
            record = _export(_cpu_float32(clip, installed), installed, staging)
        except Exception as exc:  # the exporter and onnxruntime raise many kinds of errors
            log.exception("exporting the text tower of %s failed", installed.id)
            record = {"status": onnx_tower.FAILED, "reason": f"export failed: {type(exc).__name__}: {exc}"}
        record.update(format=onnx_tower.RECORD_FORMAT, model_id=installed.id, fingerprint=files,
                      versions=versions, opset=OPSET,
                      created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      seconds=round(time.perf_counter() - started, 2))
        if record["status"] != onnx_tower.READY:
            for leftover in staging.iterdir():
                leftover.unlink()
        onnx_tower.write_record(staging, record)
        old = final.with_name(f".{final.name}-old")
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("text tower of %s: %s (%s s)", installed.id, record.get("reason") or record["status"], record["seconds"])
    return onnx_tower.status(installed)


def _tower_module(model: Any) -> Any:
    """A torch module: tokens (N, L) int64 → unit text vectors, as `encode_text` computes them."""
    import torch

    class TextTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.model.encode_text(tokens, normalize=True)

    return TextTower().eval()


def _with_external_weights(traced: Path, staging: Path) -> Path:
    """The graph in one file and its weights in another: onnxruntime maps an external weights file
    instead of copying it out of the protobuf (ViT-B-32: session in 0.2 s and 212 MB, not 0.5 s
    and 400 MB)."""
    import onnx

    model = onnx.load(str(traced))
    path = staging / onnx_tower.ONNX_FILE
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=onnx_tower.WEIGHTS_FILE, size_threshold=1024)
    traced.unlink()
    return path


def _export(clip: ClipModel, installed: InstalledModel, staging: Path) -> dict[str, Any]:
    import torch

    length = onnx_tower.context_length(installed)
    tokenizer = ClipBpeTokenizer(length)
    traced = staging / "traced.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes, not ours to act on
        torch.onnx.export(
            _tower_module(clip.model), (torch.from_numpy(tokenizer(["a photo", "a dog"])),), str(traced),
            dynamo=False, input_names=["tokens"], output_names=["features"],
            dynamic_axes={"tokens": {0: "batch"}, "features": {0: "batch"}}, opset_version=OPSET,
        )
    path = _with_external_weights(traced, staging)
    expected = clip.encode_text(list(PARITY_PROMPTS))
    session = onnx_tower.new_session(path)
    encoder = onnx_tower.OnnxTextEncoder(session, tokenizer, expected.shape[1],
                                        (staging / onnx_tower.WEIGHTS_FILE).stat().st_size, installed.id)
    got = encoder.encode_text(list(PARITY_PROMPTS))
    worst = float(onnx_tower.cosines(got, expected).min())
    if not worst >= onnx_tower.MIN_COSINE:
        return {"status": onnx_tower.FAILED, "reason": f"parity check failed (cosine {worst:.5f} < {onnx_tower.MIN_COSINE})"}
    probe = clip.encode_text(list(onnx_tower.PROBE_TEXTS))
    return {
        "status": onnx_tower.READY,
        "sha256": onnx_tower.files_sha256(staging),
        "context_length": length,
        "embed_dim": int(expected.shape[1]),
        "parity": {"prompts": len(PARITY_PROMPTS), "min_cosine": round(worst, 6)},
        "probe": {"texts": list(onnx_tower.PROBE_TEXTS), "vectors": np.round(probe, 7).tolist()},
    }
