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
from ..registry import InstalledModel
from ..onnx_exports import ExportUnavailable
from . import onnx_tower

if TYPE_CHECKING:
    from ...engine import JobContext
    from ..clip_exports import ClipExports

LOADING_MESSAGE = "Loading the search model"


class TextEncoder(Protocol):
    """What words need: the torch `ClipModel` or the onnxruntime text tower."""

    def encode_text(self, texts: Sequence[str]) -> np.ndarray: ...


def cache_key(installed: InstalledModel, sha256: str) -> str:
    return f"clip-text-onnx:{installed.id}:{sha256[:16]}"


@contextlib.contextmanager
def onnx_in_job(job: "JobContext", installed: InstalledModel) -> Iterator[Optional[onnx_tower.OnnxTextEncoder]]:
    """`with onnx_in_job(job, installed) as encoder:` — the onnxruntime text tower, kept in the
    engine's CPU cache (no device detection), or None when the torch tower must answer (why is
    logged: by the loader when a check failed)."""
    with contextlib.ExitStack() as stack:
        encoder = None
        state = onnx_tower.status(installed)
        if state.ready and state.sha256:
            if cache_key(installed, state.sha256) not in job.cpu_models:
                job.progress(0, None, LOADING_MESSAGE)
            try:
                encoder = stack.enter_context(job.cpu_models.use(
                    cache_key(installed, state.sha256),
                    lambda: onnx_tower.load_text_encoder(installed, state.sha256),
                ))
            except ExportUnavailable:
                encoder = None
        yield encoder


@contextlib.contextmanager
def text_encoder_in_job(job: "JobContext", installed: InstalledModel, exports: "ClipExports") -> Iterator[TextEncoder]:
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
