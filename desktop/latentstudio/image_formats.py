"""Image formats beyond Pillow's own: HEIC/HEIF (and AVIF) through the pillow-heif plugin.

Registered once, on first use, by everything that opens user images (the library decoder,
the metadata readers), so Image.open reads an iPhone photo like a JPEG. Without the plugin
installed those files are reported as unsupported; nothing else changes.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

_lock = threading.Lock()
_registered: bool | None = None


def register_heif() -> bool:
    """Register pillow-heif's HEIF opener with Pillow; True when HEIF files can be read."""
    global _registered
    with _lock:
        if _registered is None:
            try:
                from pillow_heif import register_heif_opener
            except ImportError:
                log.info("pillow-heif is not installed: HEIC/HEIF photos cannot be read")
                _registered = False
            else:
                # Pillow's own AVIF plugin (Pillow >= 11.3) keeps AVIF; pillow-heif takes HEIF only.
                register_heif_opener(thumbnails=True)
                _registered = True
        return _registered


def heif_orientation(image: object) -> int:
    """The EXIF orientation still to apply to an opened HEIF image (1: none).

    libheif applies the container's own rotation/mirror (irot/imir) while decoding, and
    pillow-heif then resets the EXIF tag to 1 (keeping the old value in
    info["original_orientation"]) so iPhone photos are not turned twice. A file whose rotation
    lives only in EXIF (no irot/imir) still needs it applied; when we cannot tell, nothing is.
    """
    info = getattr(image, "info", {})
    original = info.get("original_orientation")
    if not isinstance(original, int) or original == 1:
        return 1
    try:  # pillow-heif keeps the container's transformations on its decoded-image handle
        heif_image = image._heif_file[image.tell()]  # type: ignore[attr-defined]
        transforms = heif_image._c_image.transformations
    except (AttributeError, IndexError, TypeError):
        return 1
    if any(t and t[0] in ("irot", "imir") for t in transforms):
        return 1
    return original if 2 <= original <= 8 else 1
