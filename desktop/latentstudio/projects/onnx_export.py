"""Export a text-embedding model to ONNX for the torch-free code-search path (`onnx_embedder`),
with a parity check.

The whole sentence-transformers pipeline is traced (TorchScript exporter, `dynamo=False`, as the
CLIP towers: it needs only onnx) with dynamic batch and sequence axes, and the graph normalises
its output, as `encode(..., normalize_embeddings=True)` does. The export is written to a staging
folder and checked before it is moved into place: the `tokenizers` package alone must give the
token ids the model's own tokenizer gives, and the vectors must match the torch model's (cosine
≥ 0.999) on every parity text — code long enough to be truncated, non-ASCII, empty. A failed check
is recorded (the same files and versions are not exported again) and the torch model answers.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import DeviceInfo
from ..models import InstalledModel, onnx_exports
from ..models.onnx_exports import ExportStatus
from . import onnx_embedder
from .embedder import TextEmbedder, load_text_embedder

PARITY_TEXTS = (
    "def parse_config(path): return json.loads(path.read_text())",
    "what does parse_config return?",
    "",
    "x",
    "class HistoryStore:\n    def add(self, entry):\n        self.rows.append(entry)\n        return entry\n" * 60,
    "fn main() { let x = 1; println!(\"{}\", x); }  // Rust",
    "café, crème brûlée and naïve art — ½ Ångström",
    "東京タワーの夜景を表示する関数",
    "🐶 🎉 emoji in a comment",
    "SELECT hash, vector FROM vectors WHERE model = ? ORDER BY rowid",
    " ".join(["read the settings file and return the parsed mapping"] * 40),
)


def export_embedder(embedder: TextEmbedder, installed: InstalledModel) -> ExportStatus:
    """Export `embedder`'s model into the model's folder and check it; the resulting status."""
    if onnx_embedder.unsupported_reason(installed) is None:  # else the status says why not
        onnx_exports.publish(installed, onnx_embedder.TOWER,
                             lambda staging: _export(_cpu_float32(embedder, installed), installed, staging))
    return onnx_embedder.status(installed)


def _cpu_float32(embedder: TextEmbedder, installed: InstalledModel) -> TextEmbedder:
    """The loaded model when it is on the CPU in float32, else a copy loaded so (the graph is
    device-neutral; the fast path runs on the CPU in float32)."""
    import torch

    weights = next(iter(embedder.parameters()))
    if weights.device.type == "cpu" and weights.dtype == torch.float32:
        return embedder
    return load_text_embedder(installed.path, DeviceInfo.cpu("exported on the CPU"), installed.id)


def _pipeline_module(model: Any, inputs: tuple[str, ...]) -> Any:
    """A torch module: token tensors (N, L) int64, in `inputs`' order → unit vectors (N, D)."""
    import torch
    import torch.nn.functional as F

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return F.normalize(self.model(dict(zip(inputs, tensors)))["sentence_embedding"], dim=-1)

    return Pipeline().eval()


def tokenizer_settings(model: Any) -> dict[str, Any]:
    """What `onnx_embedder.read_tokenizer` needs besides tokenizer.json, as the loaded model has it."""
    tokenizer = model.tokenizer
    return {
        "max_seq_length": int(model.max_seq_length),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "padding_side": str(tokenizer.padding_side),
        "truncation_side": str(tokenizer.truncation_side),
    }


def _first_other_ids(model: Any, tokenizer: Any, texts: list[str]) -> int:
    """The first text whose token ids from `tokenizer` differ from the model's own tokenizer's (-1: none)."""
    theirs = model.preprocess(texts)
    ours = tokenizer.encode_batch(texts)
    for k, encoding in enumerate(ours):
        if encoding.ids != theirs["input_ids"][k].tolist():
            return k
    return -1


def _export(embedder: TextEmbedder, installed: InstalledModel, staging: Path) -> dict[str, Any]:
    import torch

    model = embedder.model
    sample = model.preprocess(["def f(x): return x", "a longer sample, so that one row is padded"])
    inputs = tuple(name for name in onnx_embedder.INPUT_NAMES if name in sample)
    traced = staging / "traced.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes, not ours to act on
        torch.onnx.export(
            _pipeline_module(model, inputs), tuple(sample[name] for name in inputs), str(traced),
            dynamo=False, input_names=list(inputs), output_names=["embedding"],
            dynamic_axes={**{name: {0: "batch", 1: "sequence"} for name in inputs}, "embedding": {0: "batch"}},
            opset_version=onnx_exports.OPSET,
        )
    path = onnx_exports.save_with_external_weights(traced, staging, onnx_embedder.TOWER)
    settings = tokenizer_settings(model)
    tokenizer = onnx_embedder.read_tokenizer(installed.path, settings)
    other = _first_other_ids(model, tokenizer, list(PARITY_TEXTS))
    if other >= 0:
        return {"status": onnx_exports.FAILED, "reason": "tokenizer.json alone gives other token ids than "
                f"the model's tokenizer ({PARITY_TEXTS[other][:40]!r})"}
    expected = embedder.encode(list(PARITY_TEXTS), batch_size=4)
    fast = onnx_embedder.OnnxTextEmbedder(onnx_exports.new_session(path), tokenizer, inputs, embedder.dimension,
                                          0, installed.id)
    worst = float(onnx_exports.cosines(fast.encode(list(PARITY_TEXTS), batch_size=4), expected).min())
    if failure := onnx_exports.parity_failure(worst):
        return failure
    probe = embedder.encode(list(onnx_embedder.PROBE_TEXTS))
    return {
        "status": onnx_exports.READY,
        "inputs": list(inputs),
        "dimension": embedder.dimension,
        "tokenizer": settings,
        "parity": {"texts": len(PARITY_TEXTS), "min_cosine": round(worst, 6)},
        "probe": {"texts": list(onnx_embedder.PROBE_TEXTS), "vectors": np.round(probe, 7).tolist()},
    }
