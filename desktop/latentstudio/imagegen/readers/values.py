"""What a metadata reader returns, and the checked conversions every reader uses.

Metadata is untrusted data: each value is type- and range-checked here, and a value that
fails its check becomes None (or "") rather than an error; nothing read is used as a path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from ..clip_score import ClipScore
from ..request import MAX_SEED, MAX_SIZE, MAX_STEPS, MIN_SIZE

TOOL_NAMES = {
    "latentstudio": "Latent Studio",
    "automatic1111": "AUTOMATIC1111",
    "forge": "Forge",
    "sdnext": "SD.Next",
    "comfyui": "ComfyUI",
    "invokeai": "InvokeAI",
    "fooocus": "Fooocus",
    "novelai": "NovelAI",
}
MAX_TEXT = 20_000
MAX_NAME = 200
MAX_EXTRA = 2_000


@dataclass
class ImageMetadata:
    """Settings read from an image; fields are None when the file did not say (or said nonsense)."""

    # latentstudio | automatic1111 | forge | sdnext | comfyui | invokeai | fooocus | novelai
    source: str
    prompt: str = ""
    negative_prompt: str = ""
    seed: Optional[int] = None
    steps: Optional[int] = None
    guidance: Optional[float] = None
    width: Optional[int] = None
    height: Optional[int] = None
    scheduler: Optional[str] = None  # one of ours; the tool's own names stay in extras
    strength: Optional[float] = None
    model: Optional[str] = None  # a name for display and exact matching against installed ids
    model_hash: Optional[str] = None
    clip_score: Optional[ClipScore] = None  # ours only: image↔prompt cosine at generation
    extras: dict[str, str] = field(default_factory=dict)
    # LoRAs and embeddings the file names: {"name", and what it said of "weight", "te_weight", "hash"}
    loras: list[dict[str, Any]] = field(default_factory=list)
    embeddings: list[dict[str, Any]] = field(default_factory=list)
    found_in: str = ""  # where in the file: "PNG text 'parameters'", "EXIF UserComment", …
    # Inpainting / outpainting and hires fix, where the file says (readers/edits.py):
    mask_blur: Optional[int] = None
    masked_only: Optional[bool] = None
    masked_padding: Optional[int] = None
    outpaint: Optional[tuple[int, int, int, int]] = None  # pixels added left, top, right, bottom
    hires_scale: Optional[float] = None
    hires_strength: Optional[float] = None
    hires_upscaler: Optional[str] = None  # "latent" or an upscaler model's name

    @property
    def tool(self) -> str:
        """The writing tool's name as its users know it."""
        return TOOL_NAMES.get(self.source, self.source)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "tool": self.tool,
            "found_in": self.found_in,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "steps": self.steps,
            "guidance": self.guidance,
            "width": self.width,
            "height": self.height,
            "scheduler": self.scheduler,
            "strength": self.strength,
            "model": self.model,
            "model_hash": self.model_hash,
            "clip_score": None if self.clip_score is None else self.clip_score.to_json(),
            "extras": dict(self.extras),
            "loras": [dict(entry) for entry in self.loras],
            "embeddings": [dict(entry) for entry in self.embeddings],
            "mask_blur": self.mask_blur,
            "masked_only": self.masked_only,
            "masked_padding": self.masked_padding,
            "outpaint": None if self.outpaint is None else list(self.outpaint),
            "hires_scale": self.hires_scale,
            "hires_strength": self.hires_strength,
            "hires_upscaler": self.hires_upscaler,
        }


def check_int(value: Any, low: int, high: int) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if value.is_integer() else None
    try:
        number = value if isinstance(value, int) else int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def check_float(value: Any, low: float, high: float) -> Optional[float]:
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, (int, float)) else float(str(value).strip())
    except (TypeError, ValueError, OverflowError):
        return None
    return number if low <= number <= high else None  # NaN fails both comparisons


def check_seed(value: Any) -> Optional[int]:
    return check_int(value, 0, MAX_SEED)


def check_steps(value: Any) -> Optional[int]:
    return check_int(value, 1, MAX_STEPS)


def check_guidance(value: Any) -> Optional[float]:
    return check_float(value, 0, 50)


def check_size(value: Any) -> Optional[int]:
    number = check_int(value, MIN_SIZE, MAX_SIZE)
    return number if number is not None and number % 8 == 0 else None


def check_text(value: Any, limit: int = MAX_TEXT) -> str:
    return value[:limit] if isinstance(value, str) else ""


def check_name(value: Any) -> Optional[str]:
    """A model or file name for display only: one line, bounded, never a path we open."""
    text = check_text(value, MAX_NAME).strip()
    return text.splitlines()[0] if text else None


def check_hash(value: Any) -> Optional[str]:
    text = check_text(value, 128).strip().lower()
    return text if text and all(c in "0123456789abcdef" for c in text) else None


def extra_text(value: Any) -> str:
    """An extra setting as bounded text (lists and objects as compact JSON)."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            text = str(value)
    return text[:MAX_EXTRA]


def json_object(text: Any) -> Optional[dict[str, Any]]:
    """A metadata chunk's JSON object, or None for anything else (chunks are untrusted data)."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
