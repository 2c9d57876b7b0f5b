"""Masks for inpainting and outpainting: reading, feathering, the "only masked" crop, the outpaint
border and pasting the original back — pictures in, pictures out, no model involved.

As AUTOMATIC1111 does it: white (above 127) repaints; the mask is feathered by a Gaussian blur of
`mask_blur` pixels; after generation the original is laid back over the result with the inverse of
the feathered mask as its alpha, so wherever the feathered mask is 0 the pixels are the original's,
bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

MASK_THRESHOLD = 127  # a mask pixel above this (after converting to L) repaints

Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive)
OUTPAINT_FILL_BLUR = 16  # pixels: the edge-extended border is smoothed so no streaks are painted over


def _open_mask(path: Path) -> Any:
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as opened:
            return ImageOps.exif_transpose(opened).convert("L")
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"mask {path.name} cannot be read ({exc})") from exc


def binary(mask: Any) -> Any:
    """White (255) where the mask repaints, black elsewhere."""
    return mask.point(lambda value: 255 if value > MASK_THRESHOLD else 0)


def mask_is_empty(path: Path) -> bool:
    """True when no pixel of the mask repaints."""
    extrema = _open_mask(path).getextrema()
    return int(extrema[1]) <= MASK_THRESHOLD


def read_mask(path: Path, size: tuple[int, int]) -> tuple[Any, Optional[str]]:
    """(the mask as a 0/255 picture of `size`, a note when it had to be scaled to that size)."""
    from PIL import Image

    mask = _open_mask(path)
    note = None
    if mask.size != size:
        note = (f"the mask ({mask.width}x{mask.height}) was scaled to the init image's size "
                f"({size[0]}x{size[1]})")
        mask = mask.resize(size, Image.Resampling.BILINEAR)
    return binary(mask), note


def feather(mask: Any, blur: int) -> Any:
    """The mask blurred by `blur` pixels (A1111's "Mask blur"); 0 leaves it hard-edged."""
    from PIL import ImageFilter

    return mask.filter(ImageFilter.GaussianBlur(blur)) if blur > 0 else mask.copy()


def paste_back(original: Any, generated: Any, soft_mask: Any) -> Any:
    """`generated` where the soft mask is white, `original` where it is black, blended between.

    Where the mask is 0 the result is the original's pixels exactly (no rounding touches them)."""
    from PIL import Image

    base = np.asarray(original.convert("RGB"))
    new = np.asarray(generated.convert("RGB").resize(original.size, Image.Resampling.LANCZOS))
    alpha = np.asarray(soft_mask, dtype=np.float32)[..., None] / 255.0
    blended = np.rint(new * alpha + base * (1.0 - alpha)).astype(np.uint8)
    keep = (alpha == 0.0)[..., 0]
    blended[keep] = base[keep]
    return Image.fromarray(blended)


def mask_box(mask: Any) -> Box:
    """The smallest box around every non-black pixel; the caller has checked that there is one."""
    box = mask.getbbox()
    if box is None:
        raise ValueError("the mask has nothing to repaint")
    return box


def _widen(start: int, end: int, length: int, limit: int) -> tuple[int, int]:
    """Grow [start, end) to `length` (at most `limit`), centred, shifted back inside [0, limit)."""
    length = min(length, limit)
    grow = length - (end - start)
    if grow <= 0:
        return start, end
    start -= grow // 2
    end += grow - grow // 2
    if end > limit:
        start, end = start - (end - limit), limit
    if start < 0:
        start, end = 0, end - start
    return start, min(end, limit)


def crop_box(mask: Any, padding: int, width: int, height: int) -> Box:
    """The "only masked" crop: the mask's box plus `padding`, widened to the width:height aspect of
    the size it is generated at (as A1111's expand_crop_region), inside the picture."""
    left, top, right, bottom = mask_box(mask)
    limit_x, limit_y = mask.size
    left, top = max(0, left - padding), max(0, top - padding)
    right, bottom = min(limit_x, right + padding), min(limit_y, bottom + padding)
    crop_w, crop_h = right - left, bottom - top
    if crop_w / crop_h > width / height:
        top, bottom = _widen(top, bottom, round(crop_w * height / width), limit_y)
    else:
        left, right = _widen(left, right, round(crop_h * width / height), limit_x)
    return left, top, right, bottom


@dataclass(frozen=True)
class Outpainted:
    canvas: Any  # the picture on its larger canvas, the border filled from its edges
    mask: Any  # 0/255: the border, and `overlap` pixels into the picture
    offset: tuple[int, int]  # where the picture sits on the canvas


def outpaint_canvas(image: Any, sides: tuple[int, int, int, int], overlap: int) -> Outpainted:
    """Extend `image` by (left, top, right, bottom) pixels: the border repeats the edge pixels
    outward, smoothed; the mask covers the border and `overlap` pixels of the picture, so the
    feathered seam falls on pixels the model sees from both sides."""
    from PIL import Image, ImageFilter

    left, top, right, bottom = sides
    pixels = np.asarray(image.convert("RGB"))
    extended = np.pad(pixels, ((top, bottom), (left, right), (0, 0)), mode="edge")
    filled = Image.fromarray(extended).filter(ImageFilter.GaussianBlur(OUTPAINT_FILL_BLUR))
    canvas = Image.fromarray(np.asarray(filled).copy())
    canvas.paste(image.convert("RGB"), (left, top))
    mask = np.full(extended.shape[:2], 255, dtype=np.uint8)
    kept_left = left + (overlap if left else 0)
    kept_top = top + (overlap if top else 0)
    kept_right = left + image.width - (overlap if right else 0)
    kept_bottom = top + image.height - (overlap if bottom else 0)
    mask[max(kept_top, top):max(kept_bottom, kept_top), max(kept_left, left):max(kept_right, kept_left)] = 0
    return Outpainted(canvas, Image.fromarray(mask), (left, top))
