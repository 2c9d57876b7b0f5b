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
