"""The settings inpainting, outpainting and hires fix add to an image's metadata.

A1111 `parameters` pairs by A1111's own names (`Mask blur`, `Inpaint area`, `Masked area padding`,
`Hires upscale`, `Hires upscaler`); outpainting, which A1111 does by scripts, is written as
`Outpaint: "left,top,right,bottom"`. Our JSON chunk holds the same as records.
"""

from __future__ import annotations

from typing import Any, Optional

from .hires import upscaler_label
from .request import ImageRequest

ONLY_MASKED = "Only masked"  # A1111's "Inpaint area" value; "Whole picture" is its default, not written


def a1111_edit_pairs(request: ImageRequest) -> dict[str, Any]:
    pairs: dict[str, Any] = {}
    if request.is_inpainting:
        pairs["Mask blur"] = request.mask_blur
        if request.masked_only:
            pairs["Inpaint area"] = ONLY_MASKED
            pairs["Masked area padding"] = request.masked_padding
        if any(request.outpaint):
            pairs["Outpaint"] = ",".join(str(side) for side in request.outpaint)
    if request.is_hires:
        pairs["Hires upscale"] = f"{request.hires_scale:g}"
        pairs["Hires upscaler"] = upscaler_label(request)
    return pairs


def ours_edit_record(request: ImageRequest, image_size: Optional[tuple[int, int]]) -> dict[str, Any]:
    """Fields for our JSON chunk: `inpaint` and `hires` records (None when not used), the file's size."""
    inpaint = None
    if request.is_inpainting:
        inpaint = {
            "mask": request.mask.name if request.mask else None,
            "mask_blur": request.mask_blur,
            "masked_only": request.masked_only,
            "masked_padding": request.masked_padding,
            "outpaint": list(request.outpaint),
        }
    hires = None
    if request.is_hires:
        hires = {"scale": request.hires_scale, "strength": request.hires_strength, "upscaler": request.hires_upscaler}
    return {"inpaint": inpaint, "hires": hires, "image_size": list(image_size) if image_size else None}
