"""The Image page's last-used settings, kept between runs in the data home.

Stored in the same JSON shape as our PNG chunk and read back through the same checked
parser, so a damaged or hand-edited file can only fill the form with valid values.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from ..atomic_files import write_json
from .metadata import ImageMetadata, parse_ours
from .request import GenerationRequest

log = logging.getLogger(__name__)

FORM_FILE = "image-form.json"


def save_form(path: Path, request: GenerationRequest) -> None:
    data = {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "seed": request.seed,
        "steps": request.steps,
        "guidance": request.guidance,
        "width": request.width,
        "height": request.height,
        "scheduler": request.scheduler,
        "model": {"id": request.model_id} if request.model_id else None,
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
    return parse_ours(text)
