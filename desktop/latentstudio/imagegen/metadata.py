"""Generation settings inside PNG files: written as AUTOMATIC1111 does, read from the common tools.

Written: a `parameters` text chunk in AUTOMATIC1111's format (so other tools read it) and a
`latentstudio` JSON chunk with everything needed to reproduce the image.
Read: ours, AUTOMATIC1111's `parameters`, ComfyUI's `prompt` graph, InvokeAI's
`invokeai_metadata`. Metadata is data: values are type- and range-checked, never used as a
path, never evaluated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .request import MAX_SEED, MAX_SIZE, MAX_STEPS, MIN_SIZE
from .schedulers import INVOKEAI_SCHEDULERS, canonical_scheduler, from_a1111, from_comfyui, to_a1111

PARAMETERS_KEY = "parameters"
OUR_KEY = "latentstudio"
COMFYUI_KEY = "prompt"
INVOKEAI_KEY = "invokeai_metadata"
OUR_FORMAT_VERSION = 1

# AUTOMATIC1111's rules (modules/infotext_utils.py): the last line holds the parameters when it
# yields at least 3 `Key: value` pairs; values holding `,` `:` or a newline are JSON-quoted.
A1111_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
A1111_SIZE = re.compile(r"^(\d+)x(\d+)$")
NEGATIVE_PREFIX = "Negative prompt:"
COMFYUI_MAX_LINK_DEPTH = 8


@dataclass
class ImageMetadata:
    """Settings read from an image; fields are None when the file did not say (or said nonsense)."""

    source: str  # latentstudio | automatic1111 | comfyui | invokeai
    prompt: str = ""
    negative_prompt: str = ""
    seed: Optional[int] = None
    steps: Optional[int] = None
    guidance: Optional[float] = None
    width: Optional[int] = None
    height: Optional[int] = None
    scheduler: Optional[str] = None
    strength: Optional[float] = None
    model: Optional[str] = None  # a name for display and exact matching against installed ids
    extras: dict[str, str] = field(default_factory=dict)


# -- small checked conversions -------------------------------------------------------------


def _int(value: Any, low: int, high: int) -> Optional[int]:
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def _float(value: Any, low: float, high: float) -> Optional[float]:
    if isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def _size(value: Any) -> Optional[int]:
    number = _int(value, MIN_SIZE, MAX_SIZE)
    return number if number is not None and number % 8 == 0 else None


def _text(value: Any, limit: int = 20_000) -> str:
    return value[:limit] if isinstance(value, str) else ""


# -- AUTOMATIC1111 ---------------------------------------------------------------------------


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


def format_a1111(
    prompt: str,
    negative_prompt: str,
    params: dict[str, Any],
) -> str:
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
        pairs[key.strip()] = a1111_unquote(value) if value.startswith('"') else value
    return "\n".join(prompt), "\n".join(negative), pairs


def parse_a1111(text: str) -> ImageMetadata:
    prompt, negative, pairs = parse_a1111_pairs(text)
    meta = ImageMetadata("automatic1111", prompt=prompt, negative_prompt=negative, extras=pairs)
    meta.steps = _int(pairs.get("Steps"), 1, MAX_STEPS)
    meta.guidance = _float(pairs.get("CFG scale"), 0, 50)
    meta.seed = _int(pairs.get("Seed"), 0, MAX_SEED)
    size = A1111_SIZE.match(pairs.get("Size", ""))
    if size:
        meta.width, meta.height = _size(size.group(1)), _size(size.group(2))
    if "Sampler" in pairs:
        meta.scheduler = from_a1111(pairs["Sampler"], pairs.get("Schedule type"))
    meta.strength = _float(pairs.get("Denoising strength"), 0, 1) or None
    meta.model = pairs.get("Model") or None
    return meta


def _json_object(text: str) -> Optional[dict[str, Any]]:
    """A metadata chunk's JSON object, or None for anything else (chunks are untrusted data)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


# -- ours ------------------------------------------------------------------------------------


def parse_ours(text: str) -> Optional[ImageMetadata]:
    data = _json_object(text)
    if data is None:
        return None
    model = data.get("model")
    return ImageMetadata(
        "latentstudio",
        prompt=_text(data.get("prompt")),
        negative_prompt=_text(data.get("negative_prompt")),
        seed=_int(data.get("seed"), 0, MAX_SEED),
        steps=_int(data.get("steps"), 1, MAX_STEPS),
        guidance=_float(data.get("guidance"), 0, 50),
        width=_size(data.get("width")),
        height=_size(data.get("height")),
        scheduler=canonical_scheduler(_text(data.get("scheduler"))),
        strength=_float(data.get("strength"), 0, 1) if data.get("img2img") else None,
        model=_text(model.get("id"), 200) or None if isinstance(model, dict) else None,
    )


# -- ComfyUI ---------------------------------------------------------------------------------


def _comfy_follow(graph: dict[str, Any], link: Any, want: tuple[str, ...], depth: int = 0) -> Optional[dict]:
    """Follow a `[node_id, output]` link back to the first node whose inputs hold one of `want`."""
    if depth > COMFYUI_MAX_LINK_DEPTH or not (isinstance(link, list) and link):
        return None
    node = graph.get(str(link[0]))
    if not isinstance(node, dict) or not isinstance(node.get("inputs"), dict):
        return None
    inputs = node["inputs"]
    if any(isinstance(inputs.get(name), (str, int, float)) for name in want):
        return inputs
    for value in inputs.values():  # pass-through nodes: LoRA loaders, conditioning combines…
        found = _comfy_follow(graph, value, want, depth + 1)
        if found is not None:
            return found
    return None


def parse_comfyui(text: str) -> Optional[ImageMetadata]:
    graph = _json_object(text)
    if graph is None:
        return None
    samplers = [
        node["inputs"]
        for node in graph.values()
        if isinstance(node, dict)
        and node.get("class_type") in ("KSampler", "KSamplerAdvanced")
        and isinstance(node.get("inputs"), dict)
    ]
    if not samplers:
        return None
    sampler = samplers[0]
    meta = ImageMetadata("comfyui")
    positive = _comfy_follow(graph, sampler.get("positive"), ("text", "text_g"))
    negative = _comfy_follow(graph, sampler.get("negative"), ("text", "text_g"))
    meta.prompt = _text((positive or {}).get("text", (positive or {}).get("text_g")))
    meta.negative_prompt = _text((negative or {}).get("text", (negative or {}).get("text_g")))
    meta.seed = _int(sampler.get("seed", sampler.get("noise_seed")), 0, MAX_SEED)
    meta.steps = _int(sampler.get("steps"), 1, MAX_STEPS)
    meta.guidance = _float(sampler.get("cfg"), 0, 50)
    if isinstance(sampler.get("sampler_name"), str):
        scheduler = sampler.get("scheduler")
        meta.scheduler = from_comfyui(sampler["sampler_name"], scheduler if isinstance(scheduler, str) else "normal")
    denoise = _float(sampler.get("denoise"), 0, 1)
    meta.strength = denoise if denoise is not None and denoise < 1 else None
    latent = _comfy_follow(graph, sampler.get("latent_image"), ("width",))
    if latent:
        meta.width, meta.height = _size(latent.get("width")), _size(latent.get("height"))
    checkpoint = _comfy_follow(graph, sampler.get("model"), ("ckpt_name",))
    if checkpoint:
        meta.model = _text(checkpoint.get("ckpt_name"), 200) or None
    return meta


# -- InvokeAI --------------------------------------------------------------------------------


def parse_invokeai(text: str) -> Optional[ImageMetadata]:
    data = _json_object(text)
    if data is None:
        return None
    model = data.get("model")
    scheduler = data.get("scheduler")
    return ImageMetadata(
        "invokeai",
        prompt=_text(data.get("positive_prompt")),
        negative_prompt=_text(data.get("negative_prompt")),
        seed=_int(data.get("seed"), 0, MAX_SEED),
        steps=_int(data.get("steps"), 1, MAX_STEPS),
        guidance=_float(data.get("cfg_scale"), 0, 50),
        width=_size(data.get("width")),
        height=_size(data.get("height")),
        scheduler=INVOKEAI_SCHEDULERS.get(scheduler) if isinstance(scheduler, str) else None,
        strength=_float(data.get("strength"), 0, 1),
        model=_text(model.get("name"), 200) or None if isinstance(model, dict) else _text(model, 200) or None,
    )


# -- files -----------------------------------------------------------------------------------


def read_text_chunks(path: Path) -> dict[str, str]:
    """The text chunks of a PNG (tEXt, zTXt, iTXt); Pillow caps their size against bombs."""
    from PIL import Image

    with Image.open(path) as image:
        if image.format != "PNG":
            return {}
        image.load()  # text chunks after the image data are read only on load
        return {str(k): v for k, v in getattr(image, "text", {}).items() if isinstance(v, str)}


def parse_chunks(chunks: dict[str, str]) -> Optional[ImageMetadata]:
    """The most complete reading of these chunks: ours, then A1111, InvokeAI, ComfyUI."""
    if OUR_KEY in chunks:
        meta = parse_ours(chunks[OUR_KEY])
        if meta is not None:
            return meta
    if PARAMETERS_KEY in chunks and chunks[PARAMETERS_KEY].strip():
        return parse_a1111(chunks[PARAMETERS_KEY])
    if INVOKEAI_KEY in chunks:
        meta = parse_invokeai(chunks[INVOKEAI_KEY])
        if meta is not None:
            return meta
    if COMFYUI_KEY in chunks:
        return parse_comfyui(chunks[COMFYUI_KEY])
    return None


def read_metadata(path: Path) -> Optional[ImageMetadata]:
    """Generation settings stored in an image file, or None when it holds none we understand."""
    try:
        chunks = read_text_chunks(Path(path))
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow reports broken files with these
        raise ValueError(f"{Path(path).name}: not a readable image ({exc})") from exc
    return parse_chunks(chunks)


def png_info(parameters: str, ours: dict[str, Any]) -> Any:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(PARAMETERS_KEY, parameters)  # iTXt when it is not Latin-1, as A1111 does
    info.add_text(OUR_KEY, json.dumps(ours, ensure_ascii=False))
    return info


def a1111_params(
    steps: int,
    scheduler: str,
    guidance: float,
    seed: int,
    width: int,
    height: int,
    model: str,
    strength: Optional[float] = None,
) -> dict[str, Any]:
    sampler, schedule_type = to_a1111(scheduler)
    return {
        "Steps": steps,
        "Sampler": sampler,
        "Schedule type": schedule_type,
        "CFG scale": f"{guidance:g}",
        "Seed": seed,
        "Size": f"{width}x{height}",
        "Model": model,
        "Denoising strength": None if strength is None else f"{strength:g}",
        "Version": "Latent Studio",
    }
