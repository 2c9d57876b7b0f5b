"""Readers for the generation settings other tools (and we) store in image files.

`read_fields` (containers.py) gathers the texts of a file without decoding pixels;
`parse_fields` picks the tool that wrote them, most specific first; `read_reading` does both
and says why nothing was found when nothing was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .a1111 import looks_like_a1111, parse_a1111
from .comfyui import parse_comfyui
from .containers import read_fields
from .fooocus import parse_fooocus
from .invokeai import parse_dream, parse_invokeai, parse_sd_metadata
from .novelai import parse_novelai
from .ours import parse_ours
from .stealth import read_stealth
from .values import ImageMetadata, json_object

OUR_KEY = "latentstudio"
PARAMETERS_KEY = "parameters"
COMFYUI_KEY = "prompt"
COMFYUI_EXIF_PREFIX = "prompt:"
INVOKEAI_KEY = "invokeai_metadata"
STEALTH_FORMATS = ("png", "webp")
STEALTH_MAX_PIXELS = 64 * 2**20
# Newest first: InvokeAI 2.x wrote both `sd-metadata` and the older `Dream` line.
INVOKEAI_CHUNKS: tuple[tuple[str, Callable[[str], Optional[ImageMetadata]]], ...] = (
    (INVOKEAI_KEY, parse_invokeai),
    ("sd-metadata", parse_sd_metadata),
    ("Dream", parse_dream),
)


def _parameters(text: str, scheme: str, where: str) -> Optional[ImageMetadata]:
    """A `parameters`-style text: Fooocus JSON, or A1111's form (also Fooocus' a1111 scheme)."""
    if not text.strip():
        return None
    if text.lstrip().startswith("{"):
        meta = parse_fooocus(text)
        if meta is not None:
            meta.found_in = where
            return meta
        if json_object(text) is not None:
            return None  # a JSON object of some other tool: not prompt text
    meta = parse_a1111(text, "fooocus" if scheme.strip().lower() == "a1111" else None)
    meta.found_in = where
    return meta


def _found(meta: Optional[ImageMetadata], where: str) -> Optional[ImageMetadata]:
    if meta is not None:
        meta.found_in = where
    return meta


def parse_fields(fields: dict[str, str]) -> Optional[ImageMetadata]:
    """The settings in these texts, by the tool that wrote them (most specific first), or None."""
    if OUR_KEY in fields and (meta := _found(parse_ours(fields[OUR_KEY]), "PNG text 'latentstudio'")):
        return meta
    if PARAMETERS_KEY in fields:
        meta = _parameters(fields[PARAMETERS_KEY], fields.get("fooocus_scheme", ""), "PNG text 'parameters'")
        if meta is not None:
            return meta
    for key, parse in INVOKEAI_CHUNKS:
        if key in fields and (meta := _found(parse(fields[key]), f"PNG text '{key}'")) is not None:
            return meta
    if "Comment" in fields:
        meta = parse_novelai(fields["Comment"], fields.get("Description", ""), fields.get("Source", ""))
        if meta is not None:
            return _found(meta, "PNG text 'Comment' + 'Description'")
    if COMFYUI_KEY in fields and (meta := _found(parse_comfyui(fields[COMFYUI_KEY]), "PNG text 'prompt'")):
        return meta
    model = fields.get("exif:Model", "")
    if model.startswith(COMFYUI_EXIF_PREFIX):  # ComfyUI's WebP: EXIF Model = "prompt:{graph}"
        meta = parse_comfyui(model[len(COMFYUI_EXIF_PREFIX) :])
        if meta is not None:
            return _found(meta, "EXIF Model 'prompt:'")
    comment = fields.get("exif:UserComment", "")
    if comment.lstrip().startswith("{"):  # Fooocus (scheme in MakerNote), or JSON of a known shape
        meta = parse_fooocus(comment) or parse_sd_metadata(comment) or parse_invokeai(comment)
        if meta is not None and (meta.prompt or meta.seed is not None):
            return _found(meta, "EXIF UserComment")
    for key, where in (("exif:UserComment", "EXIF UserComment"), ("comment", "JPEG comment"),
                       ("xmp:UserComment", "XMP exif:UserComment")):
        text = fields.get(key, "")
        if text and looks_like_a1111(text):  # a camera's comment is words, not parameters
            scheme = fields.get("exif:MakerNote", "")
            return _parameters(text, scheme, where)
    return None


@dataclass
class Reading:
    """What `latent-studio info` reports about one file."""

    path: Path
    format: str = ""
    metadata: Optional[ImageMetadata] = None
    fields: dict[str, str] = field(default_factory=dict)
    reason: str = ""  # why nothing was read, when nothing was

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "format": self.format,
            "tool": self.metadata.source if self.metadata else None,
            "metadata": self.metadata.to_json() if self.metadata else None,
            "fields": sorted(self.fields),
            "reason": self.reason or None,
        }


def _stealth(path: Path) -> Optional[ImageMetadata]:
    from PIL import Image

    with Image.open(path) as image:
        if image.mode not in ("RGB", "RGBA") or image.width * image.height > STEALTH_MAX_PIXELS:
            return None
        image.load()
        text = read_stealth(image)
    if text is None:
        return None
    data = json_object(text)
    if data is not None:  # NovelAI hides its whole text block
        fields = {str(k): v for k, v in data.items() if isinstance(v, str)}
        meta = parse_fields(fields)
        return _found(meta, "stealth pixels")
    return _found(parse_a1111(text), "stealth pixels")


def read_reading(path: Path, stealth: bool = True) -> Reading:
    """Read a file's settings; `stealth` also looks in the pixels' low bits (decodes the image)."""
    from PIL import Image

    path = Path(path)
    try:
        fmt, fields = read_fields(path)
    except ValueError as exc:
        return Reading(path, reason=str(exc).split(": ", 1)[-1])
    reading = Reading(path, fmt, parse_fields(fields), fields)
    if reading.metadata is None and stealth and fmt in STEALTH_FORMATS:
        try:
            reading.metadata = _stealth(path)
        except (OSError, ValueError, SyntaxError, MemoryError, Image.DecompressionBombError) as exc:
            reading.reason = f"the pixels could not be read for hidden settings ({exc})"
    if reading.metadata is None and not reading.reason:
        if fields:
            reading.reason = "text metadata present, but not settings of a tool we know: " + ", ".join(sorted(fields))
        else:
            reading.reason = "no generation settings stored (no text metadata in the file)"
    return reading
