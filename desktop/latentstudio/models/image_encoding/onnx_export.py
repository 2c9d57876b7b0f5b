"""Export a CLIP picture tower to ONNX for torch-free indexing (`onnx_tower`), with a parity check.

Exported as the text tower is (TorchScript exporter, weights in a file beside the graph, staged
and checked before it is moved into place), with the pixel normalisation inside the graph.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .. import onnx_exports
from ..clip_loader import ClipModel
from ..onnx_exports import ExportStatus, cpu_float32
from ..registry import InstalledModel
from . import onnx_tower

PARITY_PICTURES = 6


def export_image_tower(clip: ClipModel, installed: InstalledModel) -> ExportStatus:
    """Export `clip`'s picture tower into the model's folder and check it; the resulting status."""
    if onnx_tower.unsupported_reason(installed) is None:  # else the status says why not
        onnx_exports.publish(installed, onnx_tower.TOWER,
                             lambda staging: _export(cpu_float32(clip, installed), installed, staging))
    return onnx_tower.status(installed)


def _tower_module(clip: ClipModel) -> Any:
    """A torch module: uint8 pixels (N, H, W, 3) → unit picture vectors, as `encode_pixels` computes them."""
    import torch

    class PictureTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = clip.model
            self.register_buffer("mean", torch.tensor(clip.spec.mean, dtype=torch.float32).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(clip.spec.std, dtype=torch.float32).view(1, 3, 1, 1))

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            batch = pixels.permute(0, 3, 1, 2).to(torch.float32) / 255.0
            return self.model.encode_image((batch - self.mean) / self.std, normalize=True)

    return PictureTower().eval()


def _export(clip: ClipModel, installed: InstalledModel, staging: Path) -> dict[str, Any]:
    import torch

    pictures = onnx_tower.patterned_pictures(clip.spec.size, PARITY_PICTURES)
    traced = staging / "traced.onnx"
    # Traced with autograd on: under no_grad, nn.MultiheadAttention takes its fused fast path
    # (aten::_native_multi_head_attention), which the exporter cannot write.
    with warnings.catch_warnings(), torch.enable_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes, not ours to act on
        torch.onnx.export(
            _tower_module(clip), (torch.from_numpy(pictures[:2]),), str(traced),
            dynamo=False, input_names=["pixels"], output_names=["features"],
            dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}}, opset_version=onnx_exports.OPSET,
        )
    path = onnx_exports.save_with_external_weights(traced, staging, onnx_tower.TOWER)
    expected = clip.encode_pixels(pictures)
    encoder = onnx_tower.OnnxImageEncoder(onnx_exports.new_session(path), clip.spec, expected.shape[1],
                                          (staging / onnx_tower.TOWER.weights_file).stat().st_size, installed.id)
    worst = float(onnx_exports.cosines(encoder.encode_pixels(pictures), expected).min())
    if failure := onnx_exports.parity_failure(worst):
        return failure
    return {
        "status": onnx_exports.READY,
        "embed_dim": int(expected.shape[1]),
        "spec": onnx_tower.spec_to_json(clip.spec),
        "parity": {"pictures": PARITY_PICTURES, "min_cosine": round(worst, 6)},
        "probe": {"pictures": onnx_tower.PROBE_PICTURES,
                  "vectors": np.round(expected[:onnx_tower.PROBE_PICTURES], 7).tolist()},
    }
