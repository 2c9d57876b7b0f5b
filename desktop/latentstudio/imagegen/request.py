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
MAX_MASK_BLUR = 64
MAX_MASKED_PADDING = 512
MAX_OUTPAINT = 2048  # pixels added on one side
MAX_HIRES_SCALE = 4.0
LATENT_UPSCALER = "latent"  # hires fix by interpolating the latents, as A1111's "Latent"
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


def parse_outpaint(text: str) -> tuple[int, int, int, int]:
    """"64,0,64,0" → pixels added (left, top, right, bottom); raises ValueError with the expected form."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 4 or not all(part.isdigit() for part in parts):
        raise ValueError(f"outpaint {text!r} is not LEFT,TOP,RIGHT,BOTTOM in pixels, e.g. 128,0,128,0")
    left, top, right, bottom = (int(part) for part in parts)
    return left, top, right, bottom


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
    # Inpainting: white (> 127) repaints; outside the blurred mask the init image is kept exactly.
    mask: Optional[Path] = None
    mask_blur: int = 4  # feather, pixels
    masked_only: bool = False  # repaint a crop around the mask at the model's native size
    masked_padding: int = 32  # pixels around the mask in that crop
    outpaint: tuple[int, int, int, int] = (0, 0, 0, 0)  # pixels added left, top, right, bottom
    # Hires fix: generate at the native size, upscale, refine with img2img at hires_strength.
    hires_scale: float = 1.0  # 1 = off
    hires_strength: float = 0.5
    hires_upscaler: str = LATENT_UPSCALER  # or an installed upscaler model's id

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
        mask = self._checked_mask(init_image)
        outpaint = self._checked_outpaint(init_image)
        hires_scale, hires_strength, hires_upscaler = self._checked_hires(init_image)
        if not 0 <= int(self.mask_blur) <= MAX_MASK_BLUR:
            raise ValueError(f"mask blur must be between 0 and {MAX_MASK_BLUR} pixels")
        if not 0 <= int(self.masked_padding) <= MAX_MASKED_PADDING:
            raise ValueError(f"masked area padding must be between 0 and {MAX_MASKED_PADDING} pixels")
        if self.masked_only and mask is None:
            raise ValueError("\"masked only\" repaints around a mask: give a mask too")
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
            mask=mask,
            mask_blur=int(self.mask_blur),
            masked_only=bool(self.masked_only),
            masked_padding=int(self.masked_padding),
            outpaint=outpaint,
            hires_scale=hires_scale,
            hires_strength=hires_strength,
            hires_upscaler=hires_upscaler,
        )

    def _checked_mask(self, init_image: Optional[Path]) -> Optional[Path]:
        if self.mask is None:
            return None
        mask = Path(self.mask).expanduser()
        if init_image is None:
            raise ValueError("a mask marks what to repaint in an init image: give an init image too")
        if not mask.is_file():
            raise FileNotFoundError(f"mask {mask} does not exist")
        from .masks import MASK_THRESHOLD, mask_is_empty  # PIL: only when there is a mask

        if mask_is_empty(mask):
            raise ValueError(
                f"mask {mask.name} has nothing to repaint: no pixel is white (above {MASK_THRESHOLD} in grey); "
                "paint the part to change in white"
            )
        return mask

    def _checked_outpaint(self, init_image: Optional[Path]) -> tuple[int, int, int, int]:
        try:
            sides = tuple(int(value) for value in self.outpaint)
        except (TypeError, ValueError):
            raise ValueError("outpaint takes four whole numbers of pixels: left, top, right, bottom") from None
        if len(sides) != 4:
            raise ValueError("outpaint takes four whole numbers of pixels: left, top, right, bottom")
        if any(not 0 <= side <= MAX_OUTPAINT for side in sides):
            raise ValueError(f"outpaint pixels must be between 0 and {MAX_OUTPAINT} on each side")
        if any(sides) and init_image is None:
            raise ValueError("outpainting extends an init image: give an init image too")
        return sides  # type: ignore[return-value]

    def _checked_hires(self, init_image: Optional[Path]) -> tuple[float, float, str]:
        scale, strength = float(self.hires_scale), float(self.hires_strength)
        upscaler = str(self.hires_upscaler or LATENT_UPSCALER).strip()
        if not 1 <= scale <= MAX_HIRES_SCALE:
            raise ValueError(f"hires scale must be between 1 (off) and {MAX_HIRES_SCALE:g}")
        if not 0 < strength <= 1:
            raise ValueError("hires strength must be above 0 and at most 1")
        if scale > 1 and init_image is not None:
            raise ValueError("hires fix refines a text-to-image result: remove the init image or set hires scale to 1")
        return scale, strength, LATENT_UPSCALER if upscaler.lower() == LATENT_UPSCALER else upscaler

    @property
    def is_inpainting(self) -> bool:
        """A mask or an outpainted border: the init image is kept outside what is repainted."""
        return self.mask is not None or any(self.outpaint)

    @property
    def is_hires(self) -> bool:
        return self.hires_scale > 1

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
        data["mask"] = str(self.mask) if self.mask else None
        data["outpaint"] = list(self.outpaint)
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
