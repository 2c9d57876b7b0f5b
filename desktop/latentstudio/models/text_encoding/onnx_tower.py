"""The fast text query path: a CLIP text tower exported to ONNX, run by onnxruntime, without torch.

A text search needs only the tokenizer and the text tower; loading torch and open_clip for them
costs seconds. The tower is exported once (`onnx_export`, which does need torch) into the
model's registry folder, `<models>/clip/<id>/text-onnx/`; its record and the checks made before
it answers are those of `onnx_exports`, with two probe prompts whose torch vectors it must give.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

import numpy as np

from ..clip_bpe import DEFAULT_CONTEXT_LENGTH, ClipBpeTokenizer
from ..onnx_exports import ExportStatus, OnnxEncoder, Tower, model_config, open_checked, probes_checked
from ..onnx_exports import open_clip_config
from ..onnx_exports import status as export_status
from ..registry import InstalledModel

log = logging.getLogger(__name__)

TOWER = Tower("text-onnx", "text.onnx", "text.onnx.data", "text tower", "the next index or search",
              "LATENT_STUDIO_TEXT_TOWER", prepack_weights=False)
PROBE_TEXTS = ("a photo of a dog on the beach", "東京の夜景, ½ café")


def unsupported_reason(installed: InstalledModel) -> Optional[str]:
    """Why this model's text side cannot take the fast path (None: it can)."""
    cfg, reason = open_clip_config(installed)
    if cfg is None:
        return reason
    text = dict(cfg.get("text_cfg") or {})
    if text.get("hf_model_name") or text.get("hf_tokenizer_name"):
        return "its text tower uses a Hugging Face tokenizer"
    if text.get("tokenizer_kwargs"):
        return "its tokenizer has non-default settings"
    if "siglip" in (installed.architecture or "").lower():
        return "SigLIP tokenizers are not supported"
    return None


def context_length(installed: InstalledModel) -> int:
    text = dict(model_config(installed).get("text_cfg") or {})
    return int(text.get("context_length", DEFAULT_CONTEXT_LENGTH))


def status(installed: InstalledModel) -> ExportStatus:
    """Whether the fast path is ready for this model, and if not, why and whether an export helps."""
    return export_status(installed, TOWER, unsupported_reason(installed))


class OnnxTextEncoder(OnnxEncoder):
    """`encode_text(texts)` → unit float32 vectors (N, D), as `ClipModel.encode_text` gives."""

    def __init__(self, session: Any, tokenizer: ClipBpeTokenizer, embed_dim: int, nbytes: int, name: str):
        super().__init__(session, embed_dim, nbytes, name)
        self.tokenizer = tokenizer

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        return self.run(self.tokenizer(list(texts)))


def load_text_encoder(installed: InstalledModel, expected_sha256: Optional[str] = None) -> OnnxTextEncoder:
    """The exported text tower, checked (model files, exported files — `expected_sha256` too when
    given —, probe vectors against the torch tower's unless they passed with these files and this
    runtime); ExportUnavailable says why not. The tokenizer's vocabulary is read while the session
    is made and the files checked."""
    record, session, tokenizer, probes_needed = open_checked(
        installed, TOWER, status(installed), expected_sha256,
        lambda record: ClipBpeTokenizer(int(record["context_length"]), TOWER.export_folder(installed)))
    folder = TOWER.export_folder(installed)
    encoder = OnnxTextEncoder(session, tokenizer, int(record["embed_dim"]),
                              (folder / TOWER.weights_file).stat().st_size, installed.id)
    checked = probes_checked(installed, TOWER, record, probes_needed, lambda probe: encoder.encode_text(list(probe["texts"])))
    # Said once per load: the packaged app's smoke check reads it to know torch was not needed.
    log.info("text queries for %s: the ONNX text tower (%s)", installed.id, checked)
    return encoder
