"""Load a transformers causal LM and its tokenizer from a local folder: offline, safetensors only,
float16 on a GPU and float32 on the CPU."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

from ..engine import DeviceInfo
from ..models import InstalledModel

log = logging.getLogger(__name__)

# Config fields that name a model's context length, by architecture family (Llama/Qwen, GPT-2, …).
CONTEXT_FIELDS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")
NO_LIMIT = 10**7  # transformers' "no limit" tokenizer length is a huge sentinel


class LanguageModel:
    """A model with its tokenizer, shaped for the ModelCache (parameters for sizing, `to` for moving)."""

    def __init__(self, model: Any, tokenizer: Any, model_id: str):
        self.model = model
        self.tokenizer = tokenizer
        self.model_id = model_id

    @property
    def device(self) -> Any:
        return self.model.device

    @property
    def context_length(self) -> int | None:
        """Tokens the model reads at most: its config's position limit, or the tokenizer's when
        that is smaller (None when neither says)."""
        config = self.model.config
        limits = [getattr(config, name, None) for name in CONTEXT_FIELDS]
        limits.append(getattr(self.tokenizer, "model_max_length", None))
        known = [int(v) for v in limits if isinstance(v, int) and 0 < v < NO_LIMIT]
        return min(known) if known else None

    def parameters(self) -> Iterator[Any]:
        return self.model.parameters()

    def buffers(self) -> Iterator[Any]:
        return self.model.buffers()

    def to(self, device: Any) -> "LanguageModel":
        self.model.to(device)
        return self


def cache_key(model: InstalledModel) -> str:
    return f"llm:{model.id}"


def load_language_model(path: Path, device: DeviceInfo, model_id: str = "") -> LanguageModel:
    """Never touches the network and never unpickles: `local_files_only`, `use_safetensors`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    log.info("loading language model %s on %s (%s)", path, device.kind, device.dtype_name)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        path,
        local_files_only=True,
        use_safetensors=True,
        dtype=device.torch_dtype,
    )
    model.to(device.torch_device)
    model.eval()
    return LanguageModel(model, tokenizer, model_id or path.name)
