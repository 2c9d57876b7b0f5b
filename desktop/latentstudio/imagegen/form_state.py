"""The Image page's last-used settings, kept between runs in the data home.

Stored in the same JSON shape as our PNG chunk and read back through the same checked
parser, so a damaged or hand-edited file can only fill the form with valid values.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

from ..atomic_files import write_json
from ..stored_formats import format_number
from .metadata import ImageMetadata, parse_ours
from .request import ImageRequest

log = logging.getLogger(__name__)

FORM_FILE = "image-form.json"
FORM_VERSION = 1  # 0: release 0.1.0 (no number)


def _newer(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and format_number(data, "form_version") > FORM_VERSION


def save_form(path: Path, request: ImageRequest) -> None:
    """Remember the form; a file written by a newer release is left as it is."""
    if _newer(path):
        log.info("%s was written by a newer Latent Studio; not replacing it", path)
        return
    data = {
        "form_version": FORM_VERSION,
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "seed": request.seed,
        "steps": request.steps,
        "guidance": request.guidance,
        "width": request.width,
        "height": request.height,
        "scheduler": request.scheduler,
        "model": {"id": request.model_id} if request.model_id else None,
        # As our PNG chunk's record (older releases' readers skip it); a mask belongs to one picture
        # and is not remembered.
        "hires": ({"scale": request.hires_scale, "strength": request.hires_strength,
                   "upscaler": request.hires_upscaler} if request.hires_scale > 1 else None),
    }
    try:
        write_json(path, data)
    except OSError as exc:  # losing the remembered form is not worth an error dialog
        log.warning("could not save the image settings to %s: %s", path, exc)


def load_form(path: Path) -> Optional[ImageMetadata]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return parse_ours(text)  # a newer file's known fields are still checked values
