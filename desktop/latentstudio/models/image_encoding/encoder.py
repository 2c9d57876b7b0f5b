"""Which picture tower encodes: on the CPU, the checked onnxruntime export when it is ready (no
torch, no open_clip, no model built in torch); on a GPU, or without a ready export, the torch model
— and then the exports are queued (`clip_exports`), once per model."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator, Optional, Protocol

import numpy as np

from ..clip_loader import PixelSpec, clip_in_job
from ..onnx_exports import cached_in_job
from ..registry import InstalledModel
from . import onnx_tower

if TYPE_CHECKING:
    from ...engine import JobContext


class PictureEncoder(Protocol):
    """What indexing needs: the torch `ClipModel` or the onnxruntime picture tower."""

    spec: PixelSpec

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray: ...


def cache_key(installed: InstalledModel, sha256: str) -> str:
    return f"clip-image-onnx:{installed.id}:{sha256[:16]}"


def on_cpu(job: "JobContext") -> bool:
    """The job encodes on the CPU; the device is detected (torch imported) only when a GPU may be there."""
    return job.surely_cpu or not job.device.is_gpu


@contextlib.contextmanager
def onnx_in_job(job: "JobContext", installed: InstalledModel) -> Iterator[Optional[onnx_tower.OnnxImageEncoder]]:
    """The onnxruntime picture tower when it may be used (its export ready, the job on the CPU),
    else None."""
    state = onnx_tower.status(installed)
    if not (state.ready and state.sha256 and on_cpu(job)):
        yield None
        return
    with cached_in_job(job, cache_key(installed, state.sha256),
                       lambda: onnx_tower.load_image_encoder(installed, state.sha256)) as encoder:
        yield encoder


@contextlib.contextmanager
def image_encoder_in_job(job: "JobContext", installed: InstalledModel) -> Iterator[tuple[PictureEncoder, str]]:
    """`with image_encoder_in_job(job, installed) as (encoder, name):` — name is "onnxruntime"
    or "torch" (then the caller queues the exports)."""
    with onnx_in_job(job, installed) as fast:
        if fast is not None:
            yield fast, "onnxruntime"
            return
    with clip_in_job(job, installed) as clip:
        yield clip, "torch"
