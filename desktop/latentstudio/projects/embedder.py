"""Load a `text-embedding` model (a sentence-transformers folder) offline: local files only, never
code from the folder, safetensors weights; float16 on a GPU, float32 on the CPU."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager, Iterator, Sequence

import numpy as np

from ..engine import DeviceInfo
from ..models import InstalledModel

if TYPE_CHECKING:
    from ..engine import JobContext

log = logging.getLogger(__name__)


class TextEmbedder:
    """A sentence-transformers model shaped for the ModelCache; `encode` gives unit vectors."""

    def __init__(self, model: Any, model_id: str):
        self.model = model
        self.model_id = model_id

    @property
    def dimension(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length or 256)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """float32 vectors of length 1, one row per text."""
        import torch

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with torch.inference_mode():
            vectors = self.model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                                        normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def parameters(self) -> Iterator[Any]:
        return self.model.parameters()

    def buffers(self) -> Iterator[Any]:
        return self.model.buffers()

    def to(self, device: Any) -> "TextEmbedder":
        self.model.to(device)
        return self


def cache_key(model: InstalledModel) -> str:
    return f"text-embedding:{model.id}"


def torch_embedder_in_job(job: "JobContext", installed: InstalledModel) -> ContextManager[TextEmbedder]:
    """`with torch_embedder_in_job(job, installed) as embedder:` — loaded once on the job's device,
    kept resident by the engine's model cache."""
    return job.models.use(cache_key(installed), lambda: load_text_embedder(installed.path, job.device, installed.id))


def load_text_embedder(path: Path, device: DeviceInfo, model_id: str = "") -> TextEmbedder:
    from sentence_transformers import SentenceTransformer

    log.info("loading text-embedding model %s on %s", path, device.kind)
    model = SentenceTransformer(
        str(path),
        device=str(device.torch_device),
        local_files_only=True,
        trust_remote_code=False,
        model_kwargs={"use_safetensors": True},
    )
    if device.is_gpu:
        model.half()
    model.eval()
    return TextEmbedder(model, model_id or Path(path).name)
