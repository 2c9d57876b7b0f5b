"""Inpainting, outpainting and hires-fix settings read back: from A1111 pairs (A1111's own names,
and our `Outpaint`) and from our JSON chunk's `inpaint` / `hires` records. Checked like every value."""

from __future__ import annotations

from typing import Any, Optional

from ..request import LATENT_UPSCALER, MAX_HIRES_SCALE, MAX_MASK_BLUR, MAX_MASKED_PADDING, MAX_OUTPAINT
from .values import ImageMetadata, check_float, check_int, check_name

A1111_LATENT = "latent"  # A1111 writes "Latent", "Latent (antialiased)", "Latent (bicubic)", …


def check_outpaint(value: Any) -> Optional[tuple[int, int, int, int]]:
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, (list, tuple)) or len(parts) != 4:
        return None
    sides = [check_int(part, 0, MAX_OUTPAINT) for part in parts]
    if any(side is None for side in sides):
        return None
    left, top, right, bottom = (int(side) for side in sides if side is not None)
    return left, top, right, bottom


def _upscaler(value: Any) -> Optional[str]:
    name = check_name(value)
    if name is None:
        return None
    return LATENT_UPSCALER if name.casefold().startswith(A1111_LATENT) else name


def a1111_edits(meta: ImageMetadata, pairs: dict[str, str]) -> None:
    meta.mask_blur = check_int(pairs.get("Mask blur"), 0, MAX_MASK_BLUR)
    area = pairs.get("Inpaint area")
    meta.masked_only = None if area is None else area.strip().casefold() == "only masked"
    meta.masked_padding = check_int(pairs.get("Masked area padding"), 0, MAX_MASKED_PADDING)
    meta.outpaint = check_outpaint(pairs.get("Outpaint"))
    meta.hires_scale = check_float(pairs.get("Hires upscale"), 1, MAX_HIRES_SCALE)
    if meta.hires_scale is not None:  # the second pass's strength is the one A1111 writes
        meta.hires_strength = check_float(pairs.get("Denoising strength"), 0, 1) or None
        meta.hires_upscaler = _upscaler(pairs.get("Hires upscaler")) or LATENT_UPSCALER


def ours_edits(meta: ImageMetadata, data: dict[str, Any]) -> None:
    inpaint = data.get("inpaint") if isinstance(data.get("inpaint"), dict) else None
    if inpaint is not None:
        meta.mask_blur = check_int(inpaint.get("mask_blur"), 0, MAX_MASK_BLUR)
        masked_only = inpaint.get("masked_only")
        meta.masked_only = masked_only if isinstance(masked_only, bool) else None
        meta.masked_padding = check_int(inpaint.get("masked_padding"), 0, MAX_MASKED_PADDING)
        meta.outpaint = check_outpaint(inpaint.get("outpaint"))
    hires = data.get("hires") if isinstance(data.get("hires"), dict) else None
    if hires is not None:
        meta.hires_scale = check_float(hires.get("scale"), 1, MAX_HIRES_SCALE)
        meta.hires_strength = check_float(hires.get("strength"), 0, 1) or None
        meta.hires_upscaler = _upscaler(hires.get("upscaler"))
