"""Thumbnails (about 256 px) cached on disk by content hash, written atomically.

Local indexing writes them while it decodes; images indexed elsewhere (on a cluster, or by an
embedding import) get theirs the first time they are shown.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from PIL import Image

from ..atomic_files import atomic_write
from .decode import DecodeError, decode_image
from .scan import content_hash
from .file_kinds import is_video

THUMBNAIL_SIZE = 256


def thumbnail_path(root: Path, content_hash: str) -> Path:
    return root / content_hash[:2] / f"{content_hash}.jpg"


def moment_key(content_hash: str, time: float) -> str:
    """The thumbnail key of a video's moment: its content hash and the time in milliseconds."""
    return f"{content_hash}-t{round(time * 1000)}"


def save_thumbnail(root: Path, content_hash: str, image: Image.Image) -> Path:
    """Write the thumbnail of an RGB image unless it already exists; returns its path."""
    target = thumbnail_path(root, content_hash)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.BICUBIC)
    with atomic_write(target, binary=True) as fh:
        thumb.save(fh, "JPEG", quality=85)
    return target


def existing_thumbnail(root: Path, content_hash: Optional[str]) -> Optional[Path]:
    if not content_hash:
        return None
    path = thumbnail_path(root, content_hash)
    return path if path.exists() else None


def ensure_thumbnail(root: Path, source: Path) -> Optional[Path]:
    """The cached thumbnail of an image file, made now when missing; None when it cannot be read.
    A file already in the cache is its own thumbnail."""
    source = Path(source)
    if source.is_relative_to(root):
        return source
    try:
        digest = content_hash(source, os.path.getsize(source))
        existing = existing_thumbnail(root, digest)
        if existing is not None:
            return existing
        if is_video(str(source)):
            from .video_decode import sample_moments  # PyAV: only for videos

            first = next(sample_moments(source, THUMBNAIL_SIZE), None)
            return save_thumbnail(root, digest, first.image) if first is not None else None
        return save_thumbnail(root, digest, decode_image(source, min_side=THUMBNAIL_SIZE).image)
    except (OSError, DecodeError):
        return None
