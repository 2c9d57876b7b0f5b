"""Settings hidden in the least significant bits of the pixels ("stealth pnginfo").

Written by the A1111 extension sd_webui_stealth_pnginfo and by NovelAI: pixels are read
column by column (x outer, y inner); in alpha mode one bit per pixel from the alpha channel,
in RGB mode three (R, G, B). The bits spell a signature (`stealth_pnginfo` / `stealth_pngcomp`,
or `stealth_rgbinfo` / `stealth_rgbcomp`), a 32-bit big-endian length in bits, then the text,
gzip-compressed for the `comp` signatures. Reading it needs the decoded pixels, so it is tried
only when asked (not while indexing).
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any, Optional

import numpy as np

SIGNATURES = {
    "alpha": {b"stealth_pnginfo": False, b"stealth_pngcomp": True},
    "rgb": {b"stealth_rgbinfo": False, b"stealth_rgbcomp": True},
}
SIGNATURE_BITS = 15 * 8
MAX_TEXT_BYTES = 4 * 2**20


def _bits(image: Any, mode: str) -> np.ndarray:
    pixels = np.asarray(image)
    channels = pixels[:, :, 3:4] if mode == "alpha" else pixels[:, :, :3]
    return (channels.transpose(1, 0, 2) & 1).reshape(-1).astype(np.uint8)  # column-major order


def _read(bits: np.ndarray, compressed: bool) -> Optional[str]:
    start = SIGNATURE_BITS + 32
    if bits.size < start:
        return None
    length = int("".join(map(str, bits[SIGNATURE_BITS:start].tolist())), 2)
    if length <= 0 or length % 8 or length > min(bits.size - start, MAX_TEXT_BYTES * 8):
        return None
    data = np.packbits(bits[start : start + length]).tobytes()
    try:
        if compressed:
            with gzip.GzipFile(fileobj=__import__("io").BytesIO(data)) as stream:
                data = stream.read(MAX_TEXT_BYTES + 1)  # bounded: a gzip bomb stops here
            if len(data) > MAX_TEXT_BYTES:
                return None
        return data.decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError):
        return None


def read_stealth(image: Any) -> Optional[str]:
    """The hidden text of a decoded PIL image, or None (checked from the signature's 15 bytes)."""
    if image.mode not in ("RGB", "RGBA"):
        return None
    for mode in ("alpha", "rgb") if image.mode == "RGBA" else ("rgb",):
        bits = _bits(image, mode)
        signature = np.packbits(bits[:SIGNATURE_BITS]).tobytes()
        if signature in SIGNATURES[mode]:
            return _read(bits, SIGNATURES[mode][signature])
    return None
