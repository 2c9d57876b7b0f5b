"""The fast text query path: a CLIP text tower exported to ONNX, run by onnxruntime, without torch.

A text search needs only the tokenizer and the text tower; loading torch and open_clip for them
costs seconds. The tower is exported once (`onnx_export`, which does need torch) into the
model's registry folder, `<models>/clip/<id>/text-onnx/`, with a record (`export.json`) of the
model files it came from, the exporting versions, the SHA-256 of the ONNX files, the parity it
showed against the torch tower, and the torch tower's vectors for two probe prompts.

Loading checks all of that: model files changed since the export, a file whose hash differs, or a
probe whose vectors disagree with the torch tower's makes the export unusable (logged), and the
caller answers with the torch tower instead and exports again. Never a wrong answer.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ...atomic_files import write_json
from ..clip_bpe import DEFAULT_CONTEXT_LENGTH, ClipBpeTokenizer
from ..registry import InstalledModel

log = logging.getLogger(__name__)

FOLDER = "text-onnx"
RECORD = "export.json"
ONNX_FILE = "text.onnx"
WEIGHTS_FILE = "text.onnx.data"  # the graph's weights, beside it (onnxruntime maps them)
RECORD_FORMAT = 1
MIN_COSINE = 0.999  # parity with the torch tower, at export (every prompt) and at load (probes)
PROBE_TEXTS = ("a photo of a dog on the beach", "東京の夜景, ½ café")
HASH_CHUNK = 8 * 2**20
CHOICE_ENV = "LATENT_STUDIO_TEXT_TOWER"  # "torch": never use the export (comparisons, troubleshooting)

# Record statuses
READY = "ready"
FAILED = "failed"  # the export or its parity check failed for these files and versions
INVALID = "invalid"  # was ready, then failed a check at load: export again


class FastTextUnavailable(RuntimeError):
    """The text tower cannot run under onnxruntime now; the message says why (torch is used)."""


@dataclass(frozen=True)
class FastTextStatus:
    ready: bool  # an export for the current model files exists (loading checks hash and probes)
    exportable: bool  # an export can be made (now, or again) from the torch tower
    reason: str  # words for `doctor` and the log
    sha256: Optional[str] = None  # of the ready export's files, as recorded

    def to_json(self) -> dict[str, Any]:
        return {"ready": self.ready, "exportable": self.exportable, "reason": self.reason}


def export_folder(installed: InstalledModel) -> Path:
    return installed.folder / FOLDER


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def source_files(installed: InstalledModel) -> list[Path]:
    """The model files the text tower is made from."""
    if installed.format == "open_clip_hub":
        from ..clip_loader import HUB_CONFIG, HUB_WEIGHTS

        return [installed.path / HUB_CONFIG, installed.path / HUB_WEIGHTS]
    return [installed.path]


def fingerprint(installed: InstalledModel) -> list[list[Any]]:
    """Name, size and modification time of each source file (following links): cheap to check at
    every load, and it changes when the model is replaced."""
    prints: list[list[Any]] = []
    for path in source_files(installed):
        st = path.stat()
        prints.append([path.name, st.st_size, st.st_mtime_ns])
    return prints


def _open_clip_config(architecture: str) -> dict[str, Any]:
    """A built-in open_clip architecture's config, read from its package data without importing it."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("open_clip is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "model_configs" / f"{architecture}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def text_config(installed: InstalledModel) -> dict[str, Any]:
    """The model's `model_cfg` (hub config, or the built-in config of its architecture)."""
    if installed.format == "open_clip_hub":
        from ..clip_loader import HUB_CONFIG

        config = json.loads((installed.path / HUB_CONFIG).read_text(encoding="utf-8"))
        return dict(config.get("model_cfg") or {})
    if installed.format == "open_clip_checkpoint" and installed.architecture:
        return _open_clip_config(installed.architecture)
    raise FastTextUnavailable(f"format {installed.format!r} has no open_clip text tower")


def unsupported_reason(installed: InstalledModel) -> Optional[str]:
    """Why this model's text side cannot take the fast path (None: it can)."""
    if installed.kind != "clip" or installed.format not in ("open_clip_hub", "open_clip_checkpoint"):
        return f"not an open_clip model ({installed.format})"
    try:
        cfg = text_config(installed)
    except (OSError, ValueError, FastTextUnavailable) as exc:
        return f"its config cannot be read ({exc})"
    text = dict(cfg.get("text_cfg") or {})
    if text.get("hf_model_name") or text.get("hf_tokenizer_name"):
        return "its text tower uses a Hugging Face tokenizer"
    if text.get("tokenizer_kwargs"):
        return "its tokenizer has non-default settings"
    if "siglip" in (installed.architecture or "").lower():
        return "SigLIP tokenizers are not supported"
    return None


def context_length(installed: InstalledModel) -> int:
    text = dict(text_config(installed).get("text_cfg") or {})
    return int(text.get("context_length", DEFAULT_CONTEXT_LENGTH))


def read_record(installed: InstalledModel) -> Optional[dict[str, Any]]:
    try:
        record = json.loads((export_folder(installed) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(folder: Path, record: dict[str, Any]) -> None:
    write_json(folder / RECORD, record)


def exporting_versions() -> dict[str, Optional[str]]:
    from importlib import metadata

    versions: dict[str, Optional[str]] = {}
    for name in ("torch", "open-clip-torch", "onnx", "onnxruntime"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def status(installed: InstalledModel) -> FastTextStatus:
    """Whether the fast path is ready for this model, and if not, why and whether an export helps.
    Cheap (a stat and a small JSON file); `load_text_encoder` does the full checks."""
    if os.environ.get(CHOICE_ENV, "").strip().lower() == "torch":
        return FastTextStatus(False, False, f"torch text tower: chosen by {CHOICE_ENV}=torch")
    unsupported = unsupported_reason(installed)
    if unsupported:
        return FastTextStatus(False, False, f"torch text tower: {unsupported}")
    missing = [m for m in ("onnxruntime", "onnx") if not available(m)]
    if "onnxruntime" in missing:
        return FastTextStatus(False, False, "torch text tower: onnxruntime is not installed")
    exportable = not missing
    record = read_record(installed)
    cannot = "" if exportable else " (onnx, needed to export it, is not installed)"
    if record is None:
        return FastTextStatus(False, exportable, f"not prepared yet: made after the next index or search{cannot}")
    try:
        current = fingerprint(installed)
    except OSError as exc:
        return FastTextStatus(False, False, f"torch text tower: model files unreadable ({exc})")
    if record.get("format") != RECORD_FORMAT or record.get("fingerprint") != current:
        return FastTextStatus(False, exportable, f"out of date: the model files changed since the export{cannot}")
    state = record.get("status")
    if state == READY:
        return FastTextStatus(True, exportable, "onnxruntime text tower, exported with "
                              + ", ".join(f"{k} {v}" for k, v in (record.get("versions") or {}).items() if v),
                              str(record.get("sha256")))
    if state == FAILED and record.get("versions") == exporting_versions():
        return FastTextStatus(False, False, f"torch text tower: the export failed ({record.get('reason')})")
    return FastTextStatus(False, exportable, f"to be exported again: {record.get('reason')}{cannot}")


def files_sha256(folder: Path) -> str:
    """SHA-256 over the graph and its weights file, in that order."""
    digest = hashlib.sha256()
    for name in (ONNX_FILE, WEIGHTS_FILE):
        with open(folder / name, "rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


def new_session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Idle intra-op threads would spin, taking cycles from indexing on the same cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxTextEncoder:
    """`encode_text(texts)` → unit float32 vectors (N, D), as `ClipModel.encode_text` gives."""

    def __init__(self, session: Any, tokenizer: ClipBpeTokenizer, embed_dim: int, nbytes: int, name: str):
        self.session = session
        self.tokenizer = tokenizer
        self.embed_dim = embed_dim
        self.nbytes = nbytes  # for the engine's model cache
        self.name = name
        self._input = session.get_inputs()[0].name

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.tokenizer(list(texts))
        features = self.session.run(None, {self._input: tokens})[0].astype(np.float32, copy=False)
        return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def _invalidate(installed: InstalledModel, record: dict[str, Any], reason: str) -> FastTextUnavailable:
    log.warning("fast text search for %s not used: %s; using the torch text tower and exporting again",
                installed.id, reason)
    try:
        write_record(export_folder(installed), {**record, "status": INVALID, "reason": reason})
    except OSError:
        log.exception("could not mark the text tower export of %s as invalid", installed.id)
    return FastTextUnavailable(reason)


def load_text_encoder(installed: InstalledModel, expected_sha256: Optional[str] = None) -> OnnxTextEncoder:
    """The exported text tower, checked (model files, file hash — `expected_sha256` too when
    given —, probe vectors against the torch tower's); FastTextUnavailable says why not. The
    hash, onnxruntime's session and the tokenizer are made at the same time (helper threads: the
    first two release the GIL), so the checks cost little wall time."""
    state = status(installed)
    if not state.ready:
        raise FastTextUnavailable(state.reason)
    if expected_sha256 is not None and state.sha256 != expected_sha256:
        raise FastTextUnavailable("the export changed while it was being loaded")
    record = read_record(installed) or {}
    folder = export_folder(installed)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="latent-text-load") as pool:
        digest = pool.submit(files_sha256, folder)
        session = pool.submit(new_session, folder / ONNX_FILE)
        tokenizer = ClipBpeTokenizer(int(record["context_length"]))
        try:
            loaded = session.result()
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable graphs
            raise _invalidate(installed, record, f"onnxruntime cannot load the exported file ({exc})") from None
        try:
            matches = digest.result() == record.get("sha256")
        except OSError as exc:
            raise _invalidate(installed, record, f"the exported files cannot be read ({exc})") from None
    if not matches:
        raise _invalidate(installed, record, "the exported file's SHA-256 differs from the record (corrupt)")
    encoder = OnnxTextEncoder(loaded, tokenizer, int(record["embed_dim"]),
                              (folder / WEIGHTS_FILE).stat().st_size, installed.id)
    probe = record.get("probe") or {}
    try:
        ours = encoder.encode_text(list(probe["texts"]))
        worst = float(cosines(ours, np.asarray(probe["vectors"], dtype=np.float32)).min())
    except Exception as exc:  # a graph that loads but cannot run these inputs
        raise _invalidate(installed, record, f"the probe prompts failed to run ({exc})") from None
    if not worst >= MIN_COSINE:
        raise _invalidate(installed, record, f"probe vectors disagree with the torch tower (cosine {worst:.5f})")
    # Said once per load: the packaged app's smoke check reads it to know torch was not needed.
    log.info("text queries for %s: the ONNX text tower (probe cosine %.5f)", installed.id, worst)
    return encoder
