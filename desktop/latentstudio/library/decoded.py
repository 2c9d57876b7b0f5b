"""What a decode gives and how it fails, shared by the decoders of pictures (decode.py), camera RAW
(raw_decode.py) and videos (video_decode.py): the decoded picture, the error whose words are the
reason the library records, the pixel cap, EXIF orientation and capture time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from PIL import Image

MAX_PIXELS = 180_000_000  # about PIL's own decompression-bomb limit; far above any camera
EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 36867
DATETIME = 306
# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose).
ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class DecodeError(Exception):
    """A file that cannot be used; str(error) is the reason shown to the user."""


@dataclass
class DecodedImage:
    image: Image.Image  # RGB, oriented, possibly reduced by draft mode
    width: int  # full-resolution, oriented dimensions
    height: int
    format: str  # lower-case PIL format name, e.g. "jpeg"
    taken: Optional[float]  # EXIF capture time (POSIX seconds, the camera's clock read as UTC)


def exif_time(image: Image.Image) -> Optional[float]:
    """The EXIF capture time (else the file's EXIF DateTime), the camera's clock read as UTC."""
    try:
        exif = image.getexif()
        value = exif.get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL) or exif.get(DATETIME)
        if not value:
            return None
        text = str(value).strip("\x00 ").strip()
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    except (ValueError, TypeError, KeyError, OSError, SyntaxError):
        return None
