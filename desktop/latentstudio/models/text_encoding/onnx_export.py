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

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .. import onnx_exports
from ..clip_bpe import ClipBpeTokenizer
from ..clip_loader import ClipModel
from ..onnx_exports import ExportStatus, cpu_float32
from ..registry import InstalledModel
from . import onnx_tower

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


def export_text_tower(clip: ClipModel, installed: InstalledModel) -> ExportStatus:
    """Export `clip`'s text tower into the model's folder and check it; the resulting status."""
    if onnx_tower.unsupported_reason(installed) is None:  # else the status says why not
        onnx_exports.publish(installed, onnx_tower.TOWER,
                             lambda staging: _export(cpu_float32(clip, installed), installed, staging))
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


def _export(clip: ClipModel, installed: InstalledModel, staging: Path) -> dict[str, Any]:
    import torch

    length = onnx_tower.context_length(installed)
    tokenizer = ClipBpeTokenizer(length, staging)  # its merges kept in the export, for cold queries
    traced = staging / "traced.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes, not ours to act on
        torch.onnx.export(
            _tower_module(clip.model), (torch.from_numpy(tokenizer(["a photo", "a dog"])),), str(traced),
            dynamo=False, input_names=["tokens"], output_names=["features"],
            dynamic_axes={"tokens": {0: "batch"}, "features": {0: "batch"}}, opset_version=onnx_exports.OPSET,
        )
    path = onnx_exports.save_with_external_weights(traced, staging, onnx_tower.TOWER)
    expected = clip.encode_text(list(PARITY_PROMPTS))
    session = onnx_exports.new_session(path)
    encoder = onnx_tower.OnnxTextEncoder(session, tokenizer, expected.shape[1],
                                        (staging / onnx_tower.TOWER.weights_file).stat().st_size, installed.id)
    got = encoder.encode_text(list(PARITY_PROMPTS))
    worst = float(onnx_exports.cosines(got, expected).min())
    if failure := onnx_exports.parity_failure(worst):
        return failure
    probe = clip.encode_text(list(onnx_tower.PROBE_TEXTS))
    return {
        "status": onnx_exports.READY,
        "context_length": length,
        "embed_dim": int(expected.shape[1]),
        "parity": {"prompts": len(PARITY_PROMPTS), "min_cosine": round(worst, 6)},
        "probe": {"texts": list(onnx_tower.PROBE_TEXTS), "vectors": np.round(probe, 7).tolist()},
    }
