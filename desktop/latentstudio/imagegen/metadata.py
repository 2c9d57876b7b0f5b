"""Generation settings inside image files: written as AUTOMATIC1111 does, read from the common tools.

Written: a `parameters` text chunk in AUTOMATIC1111's format (so other tools read it) and a
`latentstudio` JSON chunk with everything needed to reproduce the image; for JPEG/WebP
exports the same text as EXIF UserComment, as A1111 writes it.
Read (readers/): ours, AUTOMATIC1111 / Forge / SD.Next, ComfyUI, InvokeAI (1.x-5.x), Fooocus
and NovelAI, from PNG text, EXIF, XMP and hidden pixel bits. Metadata is data: values are
type- and range-checked, never used as a path, never evaluated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from .readers import PARAMETERS_KEY, OUR_KEY, Reading, parse_fields, read_reading
from .readers.a1111 import a1111_params, a1111_quote, a1111_unquote, format_a1111, parse_a1111, parse_a1111_pairs
from .readers.comfyui import parse_comfyui
from .readers.invokeai import parse_invokeai
from .readers.ours import OUR_FORMAT_VERSION, parse_ours
from .readers.values import ImageMetadata

__all__ = [
    "ImageMetadata",
    "OUR_FORMAT_VERSION",
    "Reading",
    "a1111_params",
    "a1111_quote",
    "a1111_unquote",
    "exif_user_comment",
    "format_a1111",
    "parse_a1111",
    "parse_a1111_pairs",
    "parse_chunks",
    "parse_comfyui",
    "parse_invokeai",
    "parse_ours",
    "png_info",
    "read_metadata",
    "read_reading",
]

USER_COMMENT_TAG = 0x9286
EXIF_IFD = 0x8769


def parse_chunks(chunks: dict[str, str]) -> Optional[ImageMetadata]:
    """The most complete reading of a PNG's text chunks (or any file's fields)."""
    return parse_fields(chunks)


def read_metadata(path: Path, stealth: bool = True) -> Optional[ImageMetadata]:
    """Generation settings stored in an image file, or None when it holds none we understand."""
    reading = read_reading(Path(path), stealth=stealth)
    if reading.metadata is None and not reading.format:
        raise ValueError(f"{Path(path).name}: {reading.reason}")
    return reading.metadata


def png_info(parameters: str, ours: dict[str, Any]) -> Any:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(PARAMETERS_KEY, parameters)  # iTXt when it is not Latin-1, as A1111 does
    info.add_text(OUR_KEY, json.dumps(ours, ensure_ascii=False))
    return info


def exif_user_comment(parameters: str) -> Any:
    """A Pillow Exif holding `parameters` as UserComment, "UNICODE" + UTF-16 BE, as A1111 writes it."""
    from PIL import Image

    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT_TAG] = b"UNICODE\x00" + parameters.encode("utf-16-be")
    return exif
