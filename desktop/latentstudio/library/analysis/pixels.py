"""A pixel check for near-duplicates: CLIP says two pictures show the same thing, their pixels say
whether they are the same picture.

CLIP embeddings are semantic: two shots of a burst, or a red circle on pink and on grey, lie as
close as a photo and its re-encoded copy. Two marks of each picture decide instead:

- a 16×16 colour print (RMS difference on the 0–255 scale): catches another background or colour,
  which a grey-level hash misses;
- a 64-bit difference hash (imagehash's dHash, Hamming distance): catches another shape, angle or
  place of the subject.

A copy cropped a little shows the middle of its original enlarged, so each picture also carries
the marks of its centred crops (3, 6 and 9% a side) and a pair is compared at its best-aligned
crop. Only centred crops: allowing any window would also align a subject that moved or shrank
(tests/benchmarks/analysis.py --parts planted measured it). Marks come from the cached thumbnail
(else a draft-mode decode), so a pair costs no full decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import imagehash
import numpy as np
from PIL import Image

from ..decode import DecodeError, decode_image
from ..store import ImageRow
from ..thumbnails import existing_thumbnail

PRINT_SIDE = 16
CROPS = (0.0, 0.03, 0.06, 0.09)  # centred crops, a side


@dataclass
class Marks:
    prints: list[np.ndarray]  # per crop of CROPS: (16, 16, 3) float32
    hashes: list[imagehash.ImageHash]  # per crop of CROPS: 64-bit dHash


def picture_marks(row: ImageRow, thumbnails: Path) -> Optional[Marks]:
    """The picture's marks, or None when it cannot be read now."""
    thumbnail = existing_thumbnail(thumbnails, row.hash)
    try:
        if thumbnail is not None:
            with Image.open(thumbnail) as image:
                picture = image.convert("RGB")
        else:
            picture = decode_image(Path(row.path), min_side=PRINT_SIDE * 8).image
    except (OSError, DecodeError):
        return None
    return marks_of(picture)


def marks_of(picture: Image.Image) -> Marks:
    w, h = picture.size
    marks = Marks([], [])
    for cut in CROPS:
        dx, dy = int(round(w * cut)), int(round(h * cut))
        part = picture.crop((dx, dy, w - dx, h - dy)) if cut else picture
        marks.prints.append(np.asarray(part.resize((PRINT_SIDE, PRINT_SIDE), Image.Resampling.BOX), dtype=np.float32))
        marks.hashes.append(imagehash.dhash(part))
    return marks


def marks_distance(a: Marks, b: Marks) -> tuple[float, int]:
    """(print distance, hash bits apart) at the best-aligned crop: either picture's crops against
    the other one whole."""
    found = []
    for crops, whole in ((a, b), (b, a)):
        for crop_print, crop_hash in zip(crops.prints, crops.hashes):
            found.append((float(np.sqrt(np.mean((crop_print - whole.prints[0]) ** 2))), int(crop_hash - whole.hashes[0])))
    return min(found)
