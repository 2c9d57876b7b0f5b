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
    "generated, prompt, rating, label, sidecar_mtime, duration, codec, companion"
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
    rating: Optional[int] = None  # XMP stars: -1 rejected, 0 none, 1–5
    label: Optional[str] = None  # XMP colour label
    sidecar_mtime: Optional[float] = None  # of the XMP sidecar the words were read with
    duration: Optional[float] = None  # a video's length in seconds
    codec: Optional[str] = None  # a video's codec
    companion: Optional[str] = None  # the file paired with it: a RAW beside a JPEG, a Live Photo's video


@dataclass(frozen=True)
class DecodedInfo:
    """What a successful decode learned about an image, stored with its vector."""

    width: int
    height: int
    taken: Optional[float]
    format: str
    duration: Optional[float] = None  # a video's length in seconds
    codec: Optional[str] = None  # a video's codec


def image_row(row: Sequence) -> ImageRow:
    return ImageRow(*row[:12], bool(row[12]), *row[13:])  # type: ignore[arg-type]


def vector_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


