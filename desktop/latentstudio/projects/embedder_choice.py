"""Which text-embedding model answers: the checked onnxruntime export when it is ready (no torch,
no transformers, no sentence-transformers: a cold code search in a new process), else the torch
model — and then its export is queued for next time, once per model (`embedder_exports`: it needs
the torch model, which is loaded then)."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Protocol, Sequence

import numpy as np

from ..models import InstalledModel
from ..models.onnx_exports import cached_in_job
from . import onnx_embedder
from .embedder import cache_key as torch_cache_key
from .embedder import torch_embedder_in_job

if TYPE_CHECKING:
    from ..engine import JobContext

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What indexing and search need: the torch `TextEmbedder` or the `OnnxTextEmbedder`."""

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...


class ExportQueue(Protocol):
    """Where the export is queued after the torch model answered (`embedder_exports.EmbedderExports`)."""

    def submit(self, installed: InstalledModel, on_cpu: bool) -> object: ...


def onnx_cache_key(installed: InstalledModel, sha256: str) -> str:
    return f"text-embedding-onnx:{installed.id}:{sha256[:16]}"


@contextlib.contextmanager
def embedder_in_job(job: "JobContext", installed: InstalledModel, exports: Optional[ExportQueue],
                    onnx_wanted: Callable[[], bool]) -> Iterator[Embedder]:
    """`with embedder_in_job(job, installed, exports, onnx_wanted) as embedder:` — the onnxruntime
    model when its export is ready and `onnx_wanted()` (asked only then: indexing asks whether it
    runs on the CPU), else the torch model (loaded once, kept resident), after which the export is
    queued on `exports`."""
    state = onnx_embedder.status(installed)
    wanted = bool(state.ready and state.sha256) and onnx_wanted()
    if wanted:
        load = lambda: onnx_embedder.load_onnx_embedder(installed, state.sha256)  # noqa: E731
        with cached_in_job(job, onnx_cache_key(installed, state.sha256), load) as fast:
            if fast is not None:
                yield fast
                return
    if torch_cache_key(installed) not in job.models:  # said once per load of the torch model
        why = onnx_embedder.status(installed).reason if wanted or not state.ready else "it runs on the GPU"
        log.info("%s runs on torch: %s", installed.id, why)
    with torch_embedder_in_job(job, installed) as embedder:
        yield embedder
    if exports is not None:
        exports.submit(installed, on_cpu=not job.device.is_gpu)
