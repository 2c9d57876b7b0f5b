"""The bundled phrase banks (`resources/phrase-banks/*.txt`) and their text vectors per CLIP model.

Vectors are cached per model under the data home as `vectors.npy` (loaded without pickle) plus
a `manifest.json` naming the model (id, format, size, install time) and the banks' digest; a
different model under the same id, or edited banks, rebuild the cache. The cache is written
beside its place and swapped in, so a crash leaves the old one or none, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from ..models.catalogue import resources_dir
from ..models.registry import slugify

if TYPE_CHECKING:
    from ..models.clip_loader import ClipModel
    from ..models.registry import InstalledModel

log = logging.getLogger(__name__)

BANKS_FOLDER = "phrase-banks"
# (file stem, title) in the order a described prompt reads: what, its look, how it was made.
BANKS = (
    ("subjects", "Subject"),
    ("colours", "Colour"),
    ("shapes", "Shape"),
    ("mediums", "Medium"),
    ("styles", "Style"),
    ("lighting", "Lighting"),
    ("composition", "Composition"),
    ("camera", "Camera"),
)
CACHE_FORMAT = 1
VECTORS_FILE = "vectors.npy"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class Bank:
    name: str
    title: str
    phrases: tuple[str, ...]


def load_banks(folder: Optional[Path] = None) -> list[Bank]:
    """The bundled banks; a phrase is a non-empty line not starting with '#'."""
    folder = folder or resources_dir() / BANKS_FOLDER
    banks = []
    for name, title in BANKS:
        lines = (folder / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        phrases = tuple(dict.fromkeys(line.strip() for line in lines if line.strip() and not line.startswith("#")))
        banks.append(Bank(name, title, phrases))
    return banks


def banks_digest(banks: list[Bank]) -> str:
    text = "\n".join(f"[{b.name}]\n" + "\n".join(b.phrases) for b in banks)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_fingerprint(installed: "InstalledModel") -> dict[str, object]:
    """What identifies the weights without reading them: the model's files with size and mtime
    (another model imported under the same id, or replaced files, change it)."""
    root = installed.path
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    stats = []
    for path in files:
        st = path.stat()
        stats.append([str(path.relative_to(root)) if path != root else path.name, st.st_size, st.st_mtime_ns])
    return {"id": installed.id, "format": installed.format, "architecture": installed.architecture,
            "path": str(root), "files": stats}


@dataclass(frozen=True)
class BankVectors:
    banks: list[Bank]
    vectors: np.ndarray  # (phrases, D) unit float32, banks one after another
    bank_of: np.ndarray  # (phrases,) index into `banks`
    phrases: tuple[str, ...]
    built: bool  # encoded now (True) or read from the cache


def _flatten(banks: list[Bank]) -> tuple[tuple[str, ...], np.ndarray]:
    phrases = tuple(p for bank in banks for p in bank.phrases)
    bank_of = np.concatenate([np.full(len(b.phrases), i, dtype=np.int32) for i, b in enumerate(banks)])
    return phrases, bank_of


def _read_cache(folder: Path, manifest: dict, count: int) -> Optional[np.ndarray]:
    try:
        stored = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        if stored != manifest:
            return None
        vectors = np.load(folder / VECTORS_FILE, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape != (count, manifest["dim"]):
        return None
    return vectors


def _write_cache(folder: Path, manifest: dict, vectors: np.ndarray) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        np.save(staging / VECTORS_FILE, vectors, allow_pickle=False)
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if folder.exists():
            old = folder.with_name(f".{folder.name}-old")
            shutil.rmtree(old, ignore_errors=True)  # our own cache, never user files
            os.replace(folder, old)
            os.replace(staging, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def bank_vectors(
    clip: "ClipModel",
    installed: "InstalledModel",
    cache_root: Path,
    banks: Optional[list[Bank]] = None,
    between_batches: Optional[Callable[[int, int], None]] = None,
) -> BankVectors:
    """The banks' vectors for this model: from the cache, else encoded now and cached."""
    from ..models.text_encoding.batched import encode_texts

    banks = banks if banks is not None else load_banks()
    phrases, bank_of = _flatten(banks)
    manifest = {
        "format": CACHE_FORMAT,
        "model": model_fingerprint(installed),
        "banks_sha256": banks_digest(banks),
        "count": len(phrases),
        "dim": int(clip.embed_dim),
    }
    folder = cache_root / slugify(installed.id)
    cached = _read_cache(folder, manifest, len(phrases))
    if cached is not None:
        return BankVectors(banks, cached, bank_of, phrases, built=False)
    log.info("encoding %d phrases for %s", len(phrases), installed.id)
    vectors = encode_texts(clip, phrases, between_batches=between_batches)
    try:
        _write_cache(folder, manifest, vectors)
    except OSError:  # a read-only or full disk: describing still works, just not cached
        log.exception("could not cache the phrase vectors in %s", folder)
    return BankVectors(banks, vectors, bank_of, phrases, built=True)
