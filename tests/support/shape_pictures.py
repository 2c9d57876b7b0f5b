"""Folders of the coloured shapes the tiny CLIP knows, named `<colour>-<shape>-<k>.jpg`.

Kept apart from `tiny_clip.py`: that module's source is the clip-shapes model's cache stamp.
"""

from __future__ import annotations

import random
from pathlib import Path

from tests.support import tiny_clip


def write_shapes(folder: Path, per_class: int, seed: int, size: int = 96, quality: int = 75) -> Path:
    """`per_class` pictures of every colour and shape, drawn from `seed` (a seed the model never
    saw gives held-out pictures)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for colour, shape in tiny_clip.classes():
        for k in range(per_class):
            tiny_clip.shape_image(colour, shape, rng, size=size).save(folder / f"{colour}-{shape}-{k}.jpg",
                                                                     quality=quality)
    return folder
