"""What the library database's rows read as: folders, images, what a decode learned; the status
values and the stored form of a vector."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

PENDING, OK, SKIPPED = "pending", "ok", "skipped"
ID_CHUNK = 500  # ids (or paths, hashes) per IN (…) list
IMAGE_COLUMNS = (
    "id, folder_id, path, size, mtime, hash, width, height, taken, format, status, reason, "
    "generated, prompt"
)


@dataclass(frozen=True)
class Folder:
    id: int
    path: Path
    role: str
    scanned: Optional[float]


@dataclass(frozen=True)
class ImageRow:
    id: int
    folder_id: int
    path: str
    size: int
    mtime: float
    hash: Optional[str]
    width: Optional[int]
    height: Optional[int]
    taken: Optional[float]
    format: Optional[str]
    status: str
    reason: Optional[str]
    generated: bool
    prompt: Optional[str]


@dataclass(frozen=True)
class DecodedInfo:
    """What a successful decode learned about an image, stored with its vector."""

    width: int
    height: int
    taken: Optional[float]
    format: str


def image_row(row: Sequence) -> ImageRow:
    return ImageRow(*row[:12], bool(row[12]), row[13])  # type: ignore[arg-type]


def vector_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


