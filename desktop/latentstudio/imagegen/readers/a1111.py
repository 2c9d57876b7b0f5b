"""AUTOMATIC1111's `parameters` text (also written by Forge, SD.Next and Fooocus' A1111 scheme).

```
a cat in a hat
Negative prompt: blurry, lowres
Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, Size: 512x512, …
```
Parsed by A1111's own rules (modules/infotext_utils.py): the last line holds the parameters
only when it yields at least 3 `Key: value` pairs; values holding `,` `:` or a newline are
JSON-quoted.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from ..schedulers import from_a1111, to_a1111
from .addons import a1111_addons, fooocus_addons
from .edits import a1111_edits
from .values import (
    ImageMetadata,
    check_float,
    check_guidance,
    check_hash,
    check_name,
    check_seed,
    check_size,
    check_steps,
    extra_text,
)

A1111_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
A1111_SIZE = re.compile(r"^(\d+)x(\d+)$")
NEGATIVE_PREFIX = "Negative prompt:"
FORGE_VERSION = re.compile(r"^f\d")  # Forge: "f2.0.1v1.10.1-previous-…"


def a1111_quote(value: Any) -> str:
    text = str(value)
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def a1111_unquote(text: str) -> str:
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value if isinstance(value, str) else text


def format_a1111(prompt: str, negative_prompt: str, params: dict[str, Any]) -> str:
    """`prompt\\nNegative prompt: …\\nKey: value, …` exactly as AUTOMATIC1111 writes it."""
    line = ", ".join(f"{key}: {a1111_quote(value)}" for key, value in params.items() if value is not None)
    negative = f"\n{NEGATIVE_PREFIX} {negative_prompt}" if negative_prompt else ""
    return f"{prompt}{negative}\n{line}".strip()


def parse_a1111_pairs(text: str) -> tuple[str, str, dict[str, str]]:
    """(prompt, negative prompt, {key: value}) by AUTOMATIC1111's own parsing rules."""
    *lines, last = text.strip().split("\n")
    if len(A1111_PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt, negative, in_negative = [], [], False
    for line in lines:
        line = line.strip()
        if line.startswith(NEGATIVE_PREFIX):
            in_negative = True
            line = line[len(NEGATIVE_PREFIX) :].strip()
        (negative if in_negative else prompt).append(line)
    pairs: dict[str, str] = {}
    for key, value in A1111_PARAM.findall(last):
        value = value.strip()
        if value:  # A1111 drops a key with an empty value
            pairs[key.strip()] = a1111_unquote(value)
    return "\n".join(prompt), "\n".join(negative), pairs


def a1111_flavour(pairs: dict[str, str]) -> str:
    """Which of the tools writing this format wrote it, from its own `Version`/`App` fields."""
    version = pairs.get("Version", "")
    if pairs.get("App", "").casefold() == "sd.next":
        return "sdnext"
    if FORGE_VERSION.match(version):
        return "forge"
    if version.casefold().startswith("fooocus"):
        return "fooocus"
    if version == "Latent Studio":  # our JPEG/WebP, which carry only this text
        return "latentstudio"
    return "automatic1111"


def parse_a1111(text: str, source: Optional[str] = None) -> ImageMetadata:
    prompt, negative, pairs = parse_a1111_pairs(text)
    meta = ImageMetadata(
        source or a1111_flavour(pairs),
        prompt=prompt,
        negative_prompt=negative,
        extras={key: extra_text(value) for key, value in pairs.items()},
    )
    meta.steps = check_steps(pairs.get("Steps"))
    meta.guidance = check_guidance(pairs.get("CFG scale"))
    meta.seed = check_seed(pairs.get("Seed"))
    size = A1111_SIZE.match(pairs.get("Size", ""))
    if size:
        meta.width, meta.height = check_size(size.group(1)), check_size(size.group(2))
    if "Sampler" in pairs:
        meta.scheduler = from_a1111(pairs["Sampler"], pairs.get("Schedule type"))
    if not any(key.startswith("Hires") for key in pairs):  # hires fix reuses the field for its second pass
        meta.strength = check_float(pairs.get("Denoising strength"), 0, 1) or None
    meta.model = check_name(pairs.get("Model"))
    meta.model_hash = check_hash(pairs.get("Model hash"))
    meta.loras, meta.embeddings = a1111_addons(prompt, negative, pairs)
    a1111_edits(meta, pairs)
    if meta.source == "fooocus":  # its A1111 scheme names LoRAs as "LoRA 1: name : weight"
        meta.loras = meta.loras or fooocus_addons(pairs)
    return meta


def looks_like_a1111(text: str) -> bool:
    """True when the last line holds parameters by A1111's rule (at least 3 pairs)."""
    last = text.strip().split("\n")[-1]
    return len(A1111_PARAM.findall(last)) >= 3


def a1111_params(
    steps: int,
    scheduler: str,
    guidance: float,
    seed: int,
    width: int,
    height: int,
    model: str,
    strength: Optional[float] = None,
    model_hash: Optional[str] = None,
) -> dict[str, Any]:
    sampler, schedule_type = to_a1111(scheduler)
    return {
        "Steps": steps,
        "Sampler": sampler,
        "Schedule type": schedule_type,
        "CFG scale": f"{guidance:g}",
        "Seed": seed,
        "Size": f"{width}x{height}",
        "Model hash": model_hash,
        "Model": model,
        "Denoising strength": None if strength is None else f"{strength:g}",
        "Version": "Latent Studio",
    }
