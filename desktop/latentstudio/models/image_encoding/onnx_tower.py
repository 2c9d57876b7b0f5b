"""The picture tower exported to ONNX: indexing on the CPU without torch or open_clip.

The graph takes the library's decoded uint8 pixels (N, H, W, 3) and does the normalisation
itself, so the encoder needs no torch and no model config at run time: the pixel spec (size,
crop, mean, std) is kept in the export's record.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Optional

import numpy as np

from ..clip_loader import PixelSpec
from ..onnx_exports import ExportStatus, OnnxEncoder, Tower, open_checked, open_clip_config, probes_checked
from ..onnx_exports import status as export_status
from ..registry import InstalledModel

log = logging.getLogger(__name__)

TOWER = Tower("image-onnx", "image.onnx", "image.onnx.data", "picture tower", "the next index",
              "LATENT_STUDIO_IMAGE_TOWER", run_threads=1)
PROBE_PICTURES = 2


def unsupported_reason(installed: InstalledModel) -> Optional[str]:
    """Why this model's pictures cannot be encoded by onnxruntime (None: they can)."""
    return open_clip_config(installed)[1] or None


def status(installed: InstalledModel) -> ExportStatus:
    """Whether the picture tower's export is ready for this model, and if not, why."""
    return export_status(installed, TOWER, unsupported_reason(installed))


def patterned_pictures(size: tuple[int, int], count: int) -> np.ndarray:
    """`count` deterministic pictures (N, H, W, 3) uint8 of gradients, stripes and rings: the
    probes and parity inputs (made from arithmetic alone, so every machine makes the same ones)."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    y, x = y / max(h - 1, 1), x / max(w - 1, 1)
    pictures = []
    for i in range(count):
        k = i + 1
        r = 0.5 + 0.5 * np.sin(2 * np.pi * (k * x + 0.3 * i))
        g = 0.5 + 0.5 * np.cos(2 * np.pi * (k * 1.7 * y - 0.2 * i))
        b = 0.5 + 0.5 * np.sin(2 * np.pi * k * 3 * np.hypot(x - 0.5, y - 0.5))
        pictures.append(np.stack([r, g, b], axis=-1) * 255)
    return np.round(np.stack(pictures)).astype(np.uint8)


class OnnxImageEncoder(OnnxEncoder):
    """`encode_pixels(uint8 (N, H, W, 3))` → unit float32 vectors (N, D), as `ClipModel` gives."""

    def __init__(self, session: Any, spec: PixelSpec, embed_dim: int, nbytes: int, name: str):
        super().__init__(session, embed_dim, nbytes, name)
        self.spec = spec
        self.cores = os.cpu_count() or 1

    @functools.cached_property
    def _runners(self) -> ThreadPoolExecutor:
        # Its threads end when the encoder is dropped from the model cache and collected.
        return ThreadPoolExecutor(max_workers=self.cores, thread_name_prefix="latent-encode")

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return self.start_encoding(pixels).vectors()

    def start_encoding(self, pixels: np.ndarray) -> "Encoding":
        """The batch in parts run side by side, one per core (the session runs each on one
        thread). A batch started before the previous one's vectors are collected keeps every core
        busy across the batches' ends: a core whose part finished first takes up the next batch
        instead of waiting for the other part."""
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        parts = np.array_split(pixels, max(1, min(self.cores, len(pixels))))
        return Encoding([self._runners.submit(self.run, part) for part in parts])


class Encoding:
    """A batch's vectors being computed on other threads."""

    def __init__(self, parts: list["Future[np.ndarray]"]):
        self._parts = parts

    @classmethod
    def finished(cls, vectors: np.ndarray) -> "Encoding":
        part: Future[np.ndarray] = Future()
        part.set_result(vectors)
        return cls([part])

    def wait(self) -> None:
        """Until every part has ended (an error is kept for `vectors`)."""
        futures.wait(self._parts)

    def vectors(self) -> np.ndarray:
        return np.concatenate([part.result() for part in self._parts])


def spec_to_json(spec: PixelSpec) -> dict[str, Any]:
    return dataclasses.asdict(spec)


def spec_from_json(data: dict[str, Any]) -> PixelSpec:
    return PixelSpec(**{**data, "size": tuple(data["size"]), "mean": tuple(data["mean"]), "std": tuple(data["std"])})


def load_image_encoder(installed: InstalledModel, expected_sha256: Optional[str] = None) -> OnnxImageEncoder:
    """The exported picture tower, checked (model files, exported files, probe pictures against
    the torch tower's vectors unless they passed with these files and this runtime);
    ExportUnavailable says why not."""
    record, session, spec, probes_needed = open_checked(installed, TOWER, status(installed), expected_sha256,
                                                        lambda record: spec_from_json(record["spec"]))
    encoder = OnnxImageEncoder(session, spec, int(record["embed_dim"]),
                               (TOWER.export_folder(installed) / TOWER.weights_file).stat().st_size, installed.id)
    checked = probes_checked(installed, TOWER, record, probes_needed,
                             lambda probe: encoder.encode_pixels(patterned_pictures(spec.size, int(probe["pictures"]))))
    log.info("pictures for %s: the ONNX picture tower (%s)", installed.id, checked)
    return encoder
