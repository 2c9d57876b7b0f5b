"""CLIP score: the cosine between a generated image and its prompt, in the library's CLIP space.

Computed on the inference thread right after sampling, with the library's (default) CLIP model,
which stays resident for the next image and for searches. The score is a guide to how well the
picture matches the words, not a judge of quality: it ranks "best of N", it does not reject.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Sequence, TypeVar

if TYPE_CHECKING:
    from PIL import Image

    from ..engine import JobContext
    from ..models.registry import InstalledModel, ModelRegistry

SCORE_GUIDE = "The CLIP score says how well a picture matches its prompt's words; it is a guide, not a judge."


@dataclass(frozen=True)
class ClipScore:
    value: float  # cosine, -1..1 (CLIP's typical image↔caption range is about 0.15–0.40)
    model_id: str

    def to_json(self) -> dict[str, Any]:
        return {"value": round(self.value, 4), "model": self.model_id}


def scoring_model(registry: "ModelRegistry") -> Optional["InstalledModel"]:
    """The CLIP model the library searches with, or None when none is installed (no score then)."""
    return registry.default("clip")


def clip_score(job: "JobContext", installed: "InstalledModel", image: "Image.Image", prompt: str) -> ClipScore:
    """Score one image against its prompt (the prompt is cut to CLIP's context by its tokenizer)."""
    import numpy as np

    from ..models.clip_loader import clip_in_job

    with clip_in_job(job, installed) as clip:
        pixels = clip.spec.to_pixels(image.convert("RGB"))[None]
        image_vector = clip.encode_pixels(pixels)[0]
        text_vector = clip.encode_text([prompt])[0]
    return ClipScore(float(np.dot(image_vector, text_vector)), installed.id)


def score_from_json(value: Any) -> Optional[ClipScore]:
    """A score read back from an image's metadata (untrusted: checked, else None)."""
    if not isinstance(value, dict):
        return None
    score, model = value.get("value"), value.get("model")
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
        return None
    if not -1.0 <= float(score) <= 1.0 or not isinstance(model, str) or not 0 < len(model) <= 200:
        return None
    return ClipScore(float(score), model)


Scored = TypeVar("Scored")


def ranked(items: Sequence[Scored]) -> list[Scored]:
    """Best CLIP score first; items without a score keep their order after the scored ones."""

    def key(item: Any) -> tuple[int, float]:
        score = getattr(item, "clip_score", None)
        return (0, -score.value) if score is not None else (1, 0.0)

    return sorted(items, key=key)
