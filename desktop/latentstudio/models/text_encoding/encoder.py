"""Which text tower answers: the checked onnxruntime export when it is ready (no torch, no
open_clip), else the torch tower — and then the exports are queued for next time, once per model
(`clip_exports`: they need the torch model, which is loaded then).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator, Optional, Protocol, Sequence

import numpy as np

from ..clip_loader import cache_key as clip_cache_key
from ..clip_loader import clip_in_job
from ..onnx_exports import cached_in_job
from ..registry import InstalledModel
from . import onnx_tower

if TYPE_CHECKING:
    from ...engine import JobContext

LOADING_MESSAGE = "Loading the search model"


class ExportQueue(Protocol):
    """Where exports are queued after the torch tower answered (`clip_exports.ClipExports`)."""

    def submit(self, installed: InstalledModel, on_cpu: bool) -> object: ...


class TextEncoder(Protocol):
    """What words need: the torch `ClipModel` or the onnxruntime text tower."""

    def encode_text(self, texts: Sequence[str]) -> np.ndarray: ...


def cache_key(installed: InstalledModel, sha256: str) -> str:
    return f"clip-text-onnx:{installed.id}:{sha256[:16]}"


@contextlib.contextmanager
def onnx_in_job(job: "JobContext", installed: InstalledModel) -> Iterator[Optional[onnx_tower.OnnxTextEncoder]]:
    """`with onnx_in_job(job, installed) as encoder:` — the onnxruntime text tower, or None when
    the torch tower must answer."""
    state = onnx_tower.status(installed)
    if not (state.ready and state.sha256):
        yield None
        return
    with cached_in_job(job, cache_key(installed, state.sha256),
                       lambda: onnx_tower.load_text_encoder(installed, state.sha256), LOADING_MESSAGE) as encoder:
        yield encoder


@contextlib.contextmanager
def text_encoder_in_job(job: "JobContext", installed: InstalledModel, exports: ExportQueue) -> Iterator[TextEncoder]:
    """`with text_encoder_in_job(job, installed, exports) as encoder:` — the onnxruntime tower when
    it is ready, else the torch tower (loaded once, kept resident), after which the export is
    queued so the next query does not need torch."""
    with onnx_in_job(job, installed) as fast:
        if fast is not None:
            yield fast
            return
    if clip_cache_key(installed.id) not in job.models:
        job.progress(0, None, LOADING_MESSAGE)
    with clip_in_job(job, installed) as clip:
        yield clip
    exports.submit(installed, on_cpu=not job.device.is_gpu)
