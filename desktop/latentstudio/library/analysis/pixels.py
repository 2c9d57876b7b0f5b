"""A pixel check for near-duplicates: CLIP says two pictures show the same thing, their tiny
colour prints say whether they are the same picture.

CLIP embeddings are semantic: two shots of a burst lie as close as a photo and its re-encoded
copy. A 16×16 colour print (from the cached thumbnail, else a draft-mode decode) survives
re-encoding, resizing and a light crop, and differs once the subject moved. Its distance is the
root-mean-square difference of the prints on the 0–255 scale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

from ..decode import DecodeError, decode_image
from ..store import ImageRow
from ..thumbnails import existing_thumbnail

PRINT_SIDE = 16


def picture_print(row: ImageRow, thumbnails: Path) -> Optional[np.ndarray]:
    """(16, 16, 3) float32, or None when the picture cannot be read now."""
    thumbnail = existing_thumbnail(thumbnails, row.hash)
    try:
        if thumbnail is not None:
            with Image.open(thumbnail) as image:
                picture = image.convert("RGB")
        else:
            picture = decode_image(Path(row.path), min_side=PRINT_SIDE * 4).image
    except (OSError, DecodeError):
        return None
    small = picture.resize((PRINT_SIDE, PRINT_SIDE), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)


def print_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))
