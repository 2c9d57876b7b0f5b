"""Fast, defensive image decoding for indexing.

JPEGs are decoded at reduced scale (draft mode) when the target is much smaller than the
photo, HEIC/HEIF photos (pillow-heif) from their embedded thumbnail when it is large enough;
EXIF orientation is applied; every mode becomes RGB (alpha composited on white,
16-bit scaled down, CMYK and palettes converted); animations give their first frame; the
pixel count is checked from the header before any pixels are decoded. Every failure is a
`DecodeError` whose message is the reason recorded in the library.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
from pathlib import Path, PurePath
from typing import BinaryIO, Iterator, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..image_formats import heif_orientation, register_heif
from .decoded import MAX_PIXELS, ORIENTATION_TRANSPOSE, DecodedImage, DecodeError, exif_time
from .file_kinds import RAW_SUFFIXES
from .raw_decode import decode_raw

HEIF_SUFFIXES = (".heic", ".heif")
HEIF_MISSING = "HEIF support missing: install pillow-heif to read HEIC/HEIF photos"
AVIF_MISSING = "AVIF is not readable by this installation's image library (Pillow 11.3 or later reads it)"
DRAFT_FORMATS = ("jpeg", "heif")  # JPEG: DCT scaling; HEIF: an embedded thumbnail, when large enough


def _orientation(image: Image.Image) -> int:
    if (image.format or "").upper() == "HEIF":
        return heif_orientation(image)
    try:
        return int(image.getexif().get(0x0112, 1))
    except (ValueError, TypeError, OSError, SyntaxError):
        return 1


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode → RGB; transparent areas become white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        array = np.asarray(image).astype(np.float32)
        if mode.startswith("I;16"):
            array /= 257.0
        elif array.size and array.max() > 255:
            array *= 255.0 / float(array.max())
        elif mode == "F" and array.size and array.max() <= 1.0:
            array *= 255.0
        grey = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "L")
        return grey.convert("RGB")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        white = Image.new("RGB", image.size, (255, 255, 255))
        white.paste(image, mask=image.getchannel("A"))
        return white
    return image.convert("RGB")


def _pillow_reads_avif() -> bool:
    from PIL import features

    try:
        return bool(features.check("avif"))
    except ValueError:  # a Pillow too old to know the feature
        return False


@contextlib.contextmanager
def _reasons(suffix: str) -> Iterator[None]:
    """Turn whatever reading or decoding raised into a DecodeError with the user's reason."""
    try:
        yield
    except DecodeError:
        raise
    except PermissionError:
        raise DecodeError("permission denied") from None
    except FileNotFoundError:
        raise DecodeError("file disappeared or is a broken link") from None
    except UnidentifiedImageError:
        if suffix.lower() in HEIF_SUFFIXES and not register_heif():
            raise DecodeError(HEIF_MISSING) from None
        if suffix.lower() == ".avif" and not _pillow_reads_avif():
            raise DecodeError(AVIF_MISSING) from None
        raise DecodeError("not an image (content does not match any image format)") from None
    except Image.DecompressionBombError as exc:
        raise DecodeError(f"too many pixels ({exc})") from None
    except OSError as exc:
        if exc.errno == errno.EACCES:
            raise DecodeError("permission denied") from None
        text = str(exc)
        if "truncated" in text or "broken data stream" in text or "premature end" in text.lower():
            raise DecodeError(f"truncated or corrupt file ({text})") from None
        raise DecodeError(f"cannot read image ({text})") from None
    except (ValueError, SyntaxError, EOFError, MemoryError, IndexError, TypeError) as exc:
        raise DecodeError(f"corrupt image ({type(exc).__name__}: {exc})") from None


def _check_file(path: Path) -> None:
    if os.path.islink(path) and not os.path.exists(path):
        raise DecodeError("broken link")
    if os.path.getsize(path) == 0:
        raise DecodeError("empty file (0 bytes)")


def decode_image(path: Path, min_side: int = 0, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    """Decode `path` for indexing; `min_side` lets draft mode (JPEG, HEIF) shrink while keeping that size."""
    suffix = Path(path).suffix
    with _reasons(suffix):
        _check_file(path)
    return _decode(path, suffix, min_side, max_pixels)


def read_image_bytes(path: Path) -> bytes:
    """A file's bytes, to decode elsewhere (a cluster worker); unreadable files fail with the
    same reasons as decode_image."""
    with _reasons(Path(path).suffix):
        _check_file(path)
        return Path(path).read_bytes()


def decode_image_bytes(data: bytes, name: str, min_side: int = 0, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    """decode_image for a file's bytes read elsewhere; `name` gives the suffix for the reasons."""
    suffix = PurePath(name).suffix
    if not data:
        raise DecodeError("empty file (0 bytes)")
    return _decode(io.BytesIO(data), suffix, min_side, max_pixels)


def _decode(source: Union[Path, BinaryIO], suffix: str, min_side: int, max_pixels: int) -> DecodedImage:
    if suffix.lower() in RAW_SUFFIXES:
        with _reasons(suffix):
            return decode_raw(source, min_side, max_pixels)
    register_heif()
    with _reasons(suffix):
        with Image.open(source) as image:
            width, height = image.size
            if width <= 0 or height <= 0:
                raise DecodeError("image has no pixels")
            if width * height > max_pixels:
                raise DecodeError(
                    f"too many pixels ({width}×{height}); the limit is {max_pixels / 1e6:.0f} megapixels"
                )
            fmt = (image.format or "unknown").lower()
            taken = exif_time(image)
            orientation = _orientation(image)
            if fmt in DRAFT_FORMATS and min_side:
                # JPEG: a 1/2, 1/4 or 1/8 scale still at least this large; HEIF: the smallest
                # embedded thumbnail at least this large (when the file has one).
                image.draft("RGB", (min_side, min_side))
            if getattr(image, "is_animated", False):
                image.seek(0)
            image.load()
            if orientation in ORIENTATION_TRANSPOSE:
                image = image.transpose(ORIENTATION_TRANSPOSE[orientation])
            rgb = to_rgb(image)
            if rgb is image:
                rgb = image.copy()  # detach from the file before it is closed
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return DecodedImage(rgb, width, height, fmt, taken)
