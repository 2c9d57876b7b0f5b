"""Inpainting and outpainting: repaint what the mask marks, keep the rest of the init image exactly.

Any ordinary model inpaints through diffusers' inpainting pipeline made from its own components
(from_pipe: no second copy of the weights); a dedicated 9-channel model is given the mask and the
masked picture as it was trained to. The picture is generated at a size the model handles (a
multiple of 8; with "only masked", a crop around the mask at the model's native size), scaled
back, and the original is laid over it outside the feathered mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..engine import JobContext
from .loading import LoadedPipeline
from .masks import Box, crop_box, feather, outpaint_canvas, paste_back, read_mask
from .passes import derived, generation_size, read_init_image, run_pass
from .request import ImageRequest


@dataclass(frozen=True)
class InpaintPlan:
    base: Any  # the picture kept outside the mask: the init image, on its larger canvas when outpainting
    soft_mask: Any  # the feathered mask (L), the size of `base`
    width: int  # generated at
    height: int
    box: Optional[Box] = None  # "only masked": the crop of `base` that is generated
    notes: list[str] = field(default_factory=list)


def plan_inpaint(request: ImageRequest, native: int) -> InpaintPlan:
    """Read the init image and mask, extend the canvas, feather, and choose what is generated."""
    from PIL import Image, ImageChops

    assert request.init_image is not None
    base = read_init_image(request.init_image)
    notes: list[str] = []
    mask = None
    if request.mask is not None:
        mask, note = read_mask(request.mask, base.size)
        if note:
            notes.append(note)
    if any(request.outpaint):
        extended = outpaint_canvas(base, request.outpaint, request.mask_blur)
        if mask is not None:
            placed = Image.new("L", extended.canvas.size, 0)
            placed.paste(mask, extended.offset)
            mask = ImageChops.lighter(extended.mask, placed)
        else:
            mask = extended.mask
        base = extended.canvas
    assert mask is not None, "validated requests have a mask or an outpainted border"
    soft = feather(mask, request.mask_blur)
    if request.masked_only:
        width, height = request.width or native, request.height or native
        return InpaintPlan(base, soft, width, height, crop_box(soft, request.masked_padding, width, height), notes)
    width, height = generation_size(base.size, request.width, request.height, native)
    if (width, height) != base.size:
        notes.append(f"generated at {width}x{height} and scaled to the picture's {base.width}x{base.height}; "
                     "outside the mask the picture is kept as it was")
    return InpaintPlan(base, soft, width, height, None, notes)


def inpaint(
    job: JobContext, loaded: LoadedPipeline, plan: InpaintPlan, kwargs: dict[str, Any], strength: float, seed: int
) -> Any:
    """Generate what the plan marks and paste the original back: a picture the size of `plan.base`."""
    from PIL import Image

    size = (plan.width, plan.height)
    if plan.box is None:
        image, mask = plan.base, plan.soft_mask
    else:
        image, mask = plan.base.crop(plan.box), plan.soft_mask.crop(plan.box)
    image = image.resize(size, Image.Resampling.LANCZOS) if image.size != size else image
    mask = mask.resize(size, Image.Resampling.BILINEAR) if mask.size != size else mask
    pipe = derived(loaded, "inpaint")
    arguments = {**kwargs, "image": image, "mask_image": mask, "strength": strength,
                 "width": plan.width, "height": plan.height}
    result = run_pass(job, loaded, pipe, arguments, seed, plan.width, plan.height)
    if plan.box is not None:
        left, top, right, bottom = plan.box
        whole = plan.base.copy()
        whole.paste(result.resize((right - left, bottom - top), Image.Resampling.LANCZOS), (left, top))
        result = whole
    return paste_back(plan.base, result, plan.soft_mask)


def whole_picture(
    job: JobContext, loaded: LoadedPipeline, kwargs: dict[str, Any], image: Optional[Any], strength: float,
    seed: int, width: int, height: int,
) -> Any:
    """txt2img (`image` None) or img2img on a dedicated inpainting model: everything masked, and for
    txt2img a mid-grey picture under it, as A1111 conditions such a model without a mask."""
    from PIL import Image

    picture = image if image is not None else Image.new("RGB", (width, height), (128, 128, 128))
    arguments = {**kwargs, "image": picture, "mask_image": Image.new("L", (width, height), 255),
                 "strength": strength if image is not None else 1.0, "width": width, "height": height}
    return run_pass(job, loaded, derived(loaded, "inpaint"), arguments, seed, width, height)
