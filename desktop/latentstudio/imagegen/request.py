"""What the user asks for: one generation request, validated, and its per-image expansion."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

from .schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES, canonical_scheduler

MAX_SEED = 2**64 - 1  # ComfyUI's range; torch's CPU generator takes every one of them
RANDOM_SEED_LIMIT = 2**32  # random seeds stay 32-bit, so every tool can type them back in
MIN_SIZE, MAX_SIZE = 64, 4096
MAX_STEPS = 200
MAX_COUNT = 100
MAX_PROMPT_CHARS = 20_000
# PNG keeps the settings in text chunks (ours and A1111's); JPEG and WebP in EXIF UserComment.
FILE_FORMATS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}


def random_seed() -> int:
    return secrets.randbelow(RANDOM_SEED_LIMIT)


def parse_size(text: str) -> tuple[int, int]:
    """"512x768" → (512, 768); raises ValueError with the expected form."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 512x512")
    return int(parts[0]), int(parts[1])


@dataclass
class ImageRequest:
    """Settings for `count` images. `seed=None` means random; sizes of None mean the model's native size."""

    prompt: str
    negative_prompt: str = ""
    seed: Optional[int] = None
    steps: int = 25
    guidance: float = 7.0
    width: Optional[int] = None
    height: Optional[int] = None
    scheduler: str = DEFAULT_SCHEDULER
    count: int = 1
    init_image: Optional[Path] = None
    strength: float = 0.75
    model_id: Optional[str] = None
    file_format: str = "png"
    extra: dict[str, Any] = field(default_factory=dict)

    def validated(self) -> "ImageRequest":
        """A checked copy (scheduler name normalised); raises ValueError saying what to change."""
        if not isinstance(self.prompt, str) or len(self.prompt) > MAX_PROMPT_CHARS:
            raise ValueError(f"the prompt must be text of at most {MAX_PROMPT_CHARS} characters")
        if len(self.negative_prompt) > MAX_PROMPT_CHARS:
            raise ValueError(f"the negative prompt must be at most {MAX_PROMPT_CHARS} characters")
        if self.seed is not None and not 0 <= int(self.seed) <= MAX_SEED:
            raise ValueError(f"seed must be between 0 and {MAX_SEED} (or blank for random)")
        if not 1 <= int(self.steps) <= MAX_STEPS:
            raise ValueError(f"steps must be between 1 and {MAX_STEPS}")
        if not 0 <= float(self.guidance) <= 50:
            raise ValueError("guidance (CFG scale) must be between 0 and 50")
        for name, value in (("width", self.width), ("height", self.height)):
            if value is None:
                continue
            if not MIN_SIZE <= int(value) <= MAX_SIZE or int(value) % 8:
                raise ValueError(f"{name} must be a multiple of 8 between {MIN_SIZE} and {MAX_SIZE}, not {value}")
        scheduler = canonical_scheduler(self.scheduler)
        if scheduler is None:
            raise ValueError(f"unknown scheduler {self.scheduler!r}; choose one of: {', '.join(SCHEDULER_NAMES)}")
        if not 1 <= int(self.count) <= MAX_COUNT:
            raise ValueError(f"count must be between 1 and {MAX_COUNT}")
        file_format = {"jpg": "jpeg"}.get(str(self.file_format).lower(), str(self.file_format).lower())
        if file_format not in FILE_FORMATS:
            raise ValueError(f"file format {self.file_format!r}: choose one of {', '.join(FILE_FORMATS)}")
        init_image = None
        if self.init_image is not None:
            init_image = Path(self.init_image).expanduser()
            if not init_image.is_file():
                raise FileNotFoundError(f"init image {init_image} does not exist")
            if not 0 < float(self.strength) <= 1:
                raise ValueError("strength must be above 0 and at most 1")
        return replace(
            self,
            seed=None if self.seed is None else int(self.seed),
            steps=int(self.steps),
            guidance=float(self.guidance),
            width=None if self.width is None else int(self.width),
            height=None if self.height is None else int(self.height),
            scheduler=scheduler,
            count=int(self.count),
            init_image=init_image,
            strength=float(self.strength),
            file_format=file_format,
        )

    def images(self) -> list["ImageSpec"]:
        """One spec per image: a blank seed becomes a random one, recorded; later images take seed+1…"""
        first = random_seed() if self.seed is None else self.seed
        return [
            ImageSpec(request=self, seed=(first + index) % (MAX_SEED + 1), index=index)
            for index in range(self.count)
        ]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["init_image"] = str(self.init_image) if self.init_image else None
        return data


@dataclass(frozen=True)
class ImageSpec:
    """One image to make: the request with its concrete seed."""

    request: ImageRequest
    seed: int
    index: int = 0

    @property
    def is_img2img(self) -> bool:
        return self.request.init_image is not None
