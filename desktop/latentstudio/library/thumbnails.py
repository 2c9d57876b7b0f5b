"""Thumbnails (about 256 px) cached on disk by content hash, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PIL import Image

from ..atomic_files import atomic_write

THUMBNAIL_SIZE = 256


def thumbnail_path(root: Path, content_hash: str) -> Path:
    return root / content_hash[:2] / f"{content_hash}.jpg"


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
