"""The fast code-search path: a whole text-embedding model (encoder, pooling, normalisation: what
sentence-transformers' `encode(..., normalize_embeddings=True)` gives) exported to ONNX, run by
onnxruntime after the `tokenizers` package — no torch, transformers or sentence-transformers,
whose imports and model load cost seconds in a new process.

The export (`onnx_export`, which needs torch) is made once per model into its registry folder,
`<models>/text-embedding/<id>/onnx/`; its record and the checks made before it answers are those
of `models.onnx_exports`, with probe texts whose torch vectors it must give. What the tokenizer
needs besides tokenizer.json (the model's max_seq_length, the padding token and sides) and the
graph's inputs are recorded at export, from the torch model as sentence-transformers loaded it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..models import InstalledModel
from ..models.onnx_exports import ExportStatus, Tower, invalidate, open_checked, probes_checked
from ..models.onnx_exports import status as export_status

log = logging.getLogger(__name__)

TOWER = Tower("onnx", "embedder.onnx", "embedder.onnx.data", "text-embedding model",
              "the next project index or code search", "LATENT_STUDIO_CODE_EMBEDDER")
PROBE_TEXTS = ("def parse_config(path):\n    return json.loads(path.read_text())",
               "東京の夜景, ½ café — naïve résumé")
TOKENIZER_FILE = "tokenizer.json"
# The graph's inputs, in this order; token_type_ids only for models that take them (BERT, not ModernBERT).
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def unsupported_reason(installed: InstalledModel) -> Optional[str]:
    """Why this model cannot take the fast path (None: it can)."""
    if installed.format != "sentence_transformers":
        return f"not a sentence-transformers model ({installed.format})"
    if not (installed.path / TOKENIZER_FILE).is_file():
        return "it has no tokenizer.json (its tokenizer needs transformers)"
    return None


def status(installed: InstalledModel) -> ExportStatus:
    """Whether the fast path is ready for this model, and if not, why and whether an export helps."""
    return export_status(installed, TOWER, unsupported_reason(installed))


def read_tokenizer(folder: Path, settings: dict[str, Any]) -> Any:
    """tokenizer.json with the model's truncation and per-batch padding (`settings` as recorded
    at export): the same ids as transformers' fast tokenizer, which wraps the same file."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    tokenizer.enable_truncation(int(settings["max_seq_length"]), direction=settings["truncation_side"])
    tokenizer.enable_padding(direction=settings["padding_side"], pad_id=int(settings["pad_id"]),
                             pad_token=settings["pad_token"])
    return tokenizer


class OnnxTextEmbedder:
    """`encode(texts)` → unit float32 vectors (N, D), as the torch `TextEmbedder` gives."""

    def __init__(self, session: Any, tokenizer: Any, inputs: Sequence[str], dimension: int, nbytes: int,
                 model_id: str):
        self.session = session
        self.tokenizer = tokenizer
        self.inputs = tuple(inputs)
        self.dimension = dimension
        self.nbytes = nbytes  # for the engine's model cache
        self.model_id = model_id

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feed = {name: np.asarray(columns[name], dtype=np.int64) for name in self.inputs}
        return self.session.run(None, feed)[0]

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """float32 vectors of length 1, one row per text; batches of similar lengths, as
        sentence-transformers makes them, so little is padded."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            chosen = order[start:start + batch_size]
            out[chosen] = self._run([texts[i] for i in chosen])
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def load_onnx_embedder(installed: InstalledModel, expected_sha256: Optional[str] = None) -> OnnxTextEmbedder:
    """The exported model, checked (model files, exported files — `expected_sha256` too when
    given —, probe vectors against the torch model's unless they passed with these files and this
    runtime); ExportUnavailable says why not. The tokenizer is read while the session is made."""
    def tokenizer(record: dict[str, Any]) -> Any:
        try:
            return read_tokenizer(installed.path, record["tokenizer"])
        except Exception as exc:  # tokenizers raises plain Exceptions for a file it cannot read
            return exc

    record, session, read, probes_needed = open_checked(installed, TOWER, status(installed), expected_sha256,
                                                        tokenizer)
    if isinstance(read, Exception):
        raise invalidate(installed, TOWER, record, f"the tokenizer cannot be read ({read})")
    folder = TOWER.export_folder(installed)
    embedder = OnnxTextEmbedder(session, read, record["inputs"], int(record["dimension"]),
                                (folder / TOWER.weights_file).stat().st_size, installed.id)
    checked = probes_checked(installed, TOWER, record, probes_needed, lambda probe: embedder.encode(list(probe["texts"])))
    log.info("code search with %s: the ONNX text-embedding model (%s)", installed.id, checked)
    return embedder

