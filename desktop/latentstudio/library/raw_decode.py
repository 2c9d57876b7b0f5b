"""Camera RAW files through LibRaw (rawpy): the embedded preview first — already rendered with the
camera's own settings, and a decode of a JPEG instead of a sensor — and a half-size demosaic only
when a file has no preview large enough. A 100 MB RAW is never demosaiced at full size here.
"""

from __future__ import annotations

import io
from datetime import timezone
from pathlib import Path
from typing import BinaryIO, Optional, Union

import numpy as np
from PIL import Image

from .decoded import ORIENTATION_TRANSPOSE, DecodedImage, DecodeError, exif_time
from .file_kinds import RAW_FORMAT

# LibRaw's flip → the EXIF orientation it stands for (the preview is stored as the sensor saw it).
FLIP_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}


def _oriented(image: Image.Image, orientation: int) -> Image.Image:
    return image.transpose(ORIENTATION_TRANSPOSE[orientation]) if orientation in ORIENTATION_TRANSPOSE else image


def _preview(raw, min_side: int) -> tuple[Optional[Image.Image], Optional[float]]:
    """(the embedded preview when its shorter side reaches `min_side`, else None — many files also
    carry a 160-pixel thumbnail, no use for indexing; the capture time its EXIF gives)."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None, None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        image = Image.open(io.BytesIO(thumb.data))
        taken = exif_time(image)
        if min(image.size) < min_side:
            return None, taken
        image.draft("RGB", (min_side, min_side))
        image.load()
        return image.convert("RGB"), taken
    array = np.asarray(thumb.data)
    if array.ndim != 3 or min(array.shape[:2]) < min_side:
        return None, None
    return Image.fromarray(array.astype(np.uint8)).convert("RGB"), None


def _header_time(source: Union[Path, BinaryIO]) -> Optional[float]:
    """The capture time from the RAW's own EXIF, for the TIFF-based formats (DNG, NEF, CR2, ARW,
    ORF, PEF, …) that the image library can read the header of; None for the others."""
    try:
        if not isinstance(source, Path):
            source.seek(0)
        with Image.open(source) as header:
            return exif_time(header)
    except (OSError, ValueError, SyntaxError):
        return None


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
            picture, taken = _preview(raw, min_side)
            if picture is not None:
                picture = _oriented(picture, orientation)
            else:  # the demosaic applies the camera's orientation itself
                picture = Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8))
            if taken is None:
                taken = _header_time(source)
            if taken is None:
                # LibRaw's own reading; `other` unpacks the sensor data (a read of the whole file).
                stamp = raw.other.timestamp
                # LibRaw reads the camera's clock as local time; kept as read, marked UTC, as EXIF is.
                if stamp is not None and stamp.year > 1970:
                    taken = stamp.replace(tzinfo=timezone.utc).timestamp()
    except DecodeError:
        raise
    except rawpy.LibRawFileUnsupportedError:
        raise DecodeError("not a RAW file LibRaw can read (unsupported camera or format)") from None
    except rawpy.LibRawError as exc:
        raise DecodeError(f"cannot read RAW file (LibRaw: {type(exc).__name__}: {exc})") from None
    width, height = sizes.width, sizes.height
    if orientation in (6, 8):
        width, height = height, width
    return DecodedImage(picture, width, height, RAW_FORMAT, taken)
