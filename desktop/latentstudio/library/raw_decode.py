"""Camera RAW files through LibRaw (rawpy): the embedded preview first — already rendered with the
camera's own settings, and a decode of a JPEG instead of a sensor — and a half-size demosaic only
when a file has no preview large enough. A 100 MB RAW is never demosaiced at full size here.
"""

from __future__ import annotations

import io
from datetime import timezone
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image

from .decode import ORIENTATION_TRANSPOSE, DecodedImage, DecodeError
from .file_kinds import RAW_FORMAT

# LibRaw's flip → the EXIF orientation it stands for (the preview is stored as the sensor saw it).
FLIP_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}


def _oriented(image: Image.Image, orientation: int) -> Image.Image:
    return image.transpose(ORIENTATION_TRANSPOSE[orientation]) if orientation in ORIENTATION_TRANSPOSE else image


def _preview(raw, min_side: int) -> Union[Image.Image, None]:
    """The embedded preview when its shorter side reaches `min_side` (many files also carry a
    160-pixel thumbnail, which is no use for indexing); None otherwise."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        image = Image.open(io.BytesIO(thumb.data))
        if min(image.size) < min_side:
            return None
        image.draft("RGB", (min_side, min_side))
        image.load()
        return image.convert("RGB")
    array = np.asarray(thumb.data)
    if array.ndim != 3 or min(array.shape[:2]) < min_side:
        return None
    return Image.fromarray(array.astype(np.uint8)).convert("RGB")


def decode_raw(source: Union[Path, BinaryIO], min_side: int, max_pixels: int) -> DecodedImage:
    """A RAW file for indexing: its preview (or a half-size demosaic), upright, with the sensor's
    full size and the capture time. LibRaw's own words are the reason of a DecodeError."""
    import rawpy

    try:
        with (rawpy.imread(str(source)) if isinstance(source, Path) else rawpy.imread(source)) as raw:
            sizes = raw.sizes
            if sizes.width * sizes.height > max_pixels:
                raise DecodeError(f"too many pixels ({sizes.width}×{sizes.height}); the limit is "
                                  f"{max_pixels / 1e6:.0f} megapixels")
            orientation = FLIP_ORIENTATION.get(sizes.flip, 1)
            picture = _preview(raw, min_side)
            if picture is not None:
                picture = _oriented(picture, orientation)
            else:  # the demosaic applies the camera's orientation itself
                picture = Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8))
            stamp = raw.other.timestamp
    except DecodeError:
        raise
    except rawpy.LibRawFileUnsupportedError:
        raise DecodeError("not a RAW file LibRaw can read (unsupported camera or format)") from None
    except rawpy.LibRawError as exc:
        raise DecodeError(f"cannot read RAW file (LibRaw: {type(exc).__name__}: {exc})") from None
    width, height = sizes.width, sizes.height
    if orientation in (6, 8):
        width, height = height, width
    # LibRaw reads the camera's clock as local time; the library keeps it as read, marked UTC.
    taken = stamp.replace(tzinfo=timezone.utc).timestamp() if stamp is not None and stamp.year > 1970 else None
    return DecodedImage(picture, width, height, RAW_FORMAT, taken)
