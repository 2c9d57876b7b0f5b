"""What runs on a Ray cluster's workers: decode batches of files, encode them on CLIP actors.

Batches are Ray Data numpy batches (a dict of equal-length arrays). Decoding uses the same
decoder as local indexing, so a bad file is skipped with the same reason; a file the worker
cannot see at all (a wrong path map) is reported as missing instead, and stays waiting in the
library rather than being marked unreadable.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..models.clip_loader import PixelSpec, load_installed_clip
from ..models.registry import InstalledModel
from .decode import DecodeError, decode_image, decode_image_bytes
from .thumbnails import THUMBNAIL_SIZE

Batch = dict[str, np.ndarray]


def decode_batch(batch: Batch, spec: PixelSpec) -> Batch:
    """Files (column `data` with their bytes, or `path` as the worker sees it) → model pixels.

    Columns out: id, ok, missing, reason, width, height, taken (NaN when unknown), format, pixels.
    """
    count = len(batch["id"])
    height, width = spec.size
    pixels = np.zeros((count, height, width, 3), dtype=np.uint8)
    ok = np.zeros(count, dtype=bool)
    missing = np.zeros(count, dtype=bool)
    reasons, formats = [""] * count, [""] * count
    sizes = np.zeros((count, 2), dtype=np.int64)
    taken = np.full(count, np.nan)
    # The same reduced decode as local indexing, so vectors agree with a local run.
    min_side = max(max(spec.size), THUMBNAIL_SIZE)
    for i in range(count):
        name = str(batch["path"][i])
        try:
            if "data" in batch:
                decoded = decode_image_bytes(bytes(batch["data"][i]), name, min_side=min_side)
            elif not os.path.lexists(name):
                missing[i] = True
                continue
            else:
                decoded = decode_image(Path(name), min_side=min_side)
            pixels[i] = spec.to_pixels(decoded.image)
        except DecodeError as exc:
            reasons[i] = str(exc)
            continue
        except Exception as exc:  # one broken file never stops the run (as in local indexing)
            reasons[i] = f"cannot decode ({type(exc).__name__}: {exc})"
            continue
        ok[i] = True
        sizes[i] = (decoded.width, decoded.height)
        taken[i] = np.nan if decoded.taken is None else decoded.taken
        formats[i] = decoded.format
    return {
        "id": np.asarray(batch["id"], dtype=np.int64),
        "ok": ok,
        "missing": missing,
        "reason": np.array(reasons, dtype=object),
        "width": sizes[:, 0],
        "height": sizes[:, 1],
        "taken": taken,
        "format": np.array(formats, dtype=object),
        "pixels": pixels,
    }


@dataclass(frozen=True)
class ModelShipment:
    """How the actors get the model: its files through the object store (`files` holds one
    ObjectRef of {name: bytes}, fetched once per node), or `installed.path` readable on the
    workers themselves (shared storage)."""

    installed: InstalledModel
    files: Optional[dict[str, Any]] = None
    entry: str = "."  # the model's entry inside the folder the shipped files are written to


def model_files(installed: InstalledModel) -> tuple[dict[str, bytes], str]:
    """The files a loader needs, by name (an open_clip folder's config and weights, or the one
    checkpoint file), and the entry to load them by."""
    from ..models.clip_loader import HUB_CONFIG, HUB_WEIGHTS

    path = installed.path
    if path.is_dir():
        return {name: (path / name).read_bytes() for name in (HUB_CONFIG, HUB_WEIGHTS)}, "."
    return {path.name: path.read_bytes()}, path.name


class ClipEncoder:
    """A Ray Data actor: loads the CLIP model once, then encodes decoded batches."""

    def __init__(self, shipment: ModelShipment):
        import ray
        import torch

        use_gpu = torch.cuda.is_available() and bool(ray.get_gpu_ids())
        device = torch.device("cuda") if use_gpu else torch.device("cpu")
        dtype = torch.float16 if use_gpu else torch.float32  # float32 on CPUs: fp16 is far slower there
        installed = shipment.installed
        staging = None
        if shipment.files is not None:
            files: dict[str, bytes] = ray.get(shipment.files["ref"])
            staging = tempfile.mkdtemp(prefix="latent-model-")
            for name, data in files.items():
                Path(staging, name).write_bytes(data)
            installed = replace(installed, folder=Path(staging), entry=shipment.entry)
        try:
            self.clip = load_installed_clip(installed, device, dtype)
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)  # the weights are in memory now
        self.where = f"{socket.gethostname()} ({ray.get_runtime_context().get_node_id()[:8]})"
        self.pid = os.getpid()

    def __call__(self, batch: Batch) -> Batch:
        ok = np.asarray(batch["ok"], dtype=bool)
        count = len(ok)
        vectors = np.zeros((count, self.clip.embed_dim), dtype=np.float32)
        if ok.any():
            vectors[ok] = self.clip.encode_pixels(np.asarray(batch["pixels"])[ok])
        out = {key: batch[key] for key in ("id", "ok", "missing", "reason", "width", "height", "taken", "format")}
        out["vector"] = vectors
        out["node"] = np.array([self.where] * count, dtype=object)
        out["pid"] = np.full(count, self.pid, dtype=np.int64)
        return out
