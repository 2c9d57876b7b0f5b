"""Add-ons for image models, told apart by their tensors: LoRAs (kohya/sd-scripts and diffusers/PEFT
key layouts) and textual-inversion embeddings (A1111 `emb_params`, diffusers, SDXL `clip_l`/`clip_g`).

Each records the model family it fits (sd1 / sd2 / sdxl, from its shapes and the training
metadata kohya writes), so it can be refused for another family with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

ADDON_KINDS = ("lora", "embedding")
FAMILY_LABELS = {"sd1": "SD 1.x", "sd2": "SD 2.x", "sdxl": "SDXL"}
PREVIEW_SUFFIXES = (".preview.png", ".png")
MAX_TRIGGER_WORDS = 12
MAX_EMBEDDING_VECTORS = 75
# Text-encoder widths: SD 1.x's CLIP ViT-L, SD 2.x's OpenCLIP ViT-H.
WIDTH_FAMILIES = {768: "sd1", 1024: "sd2"}

_LYCORIS = {"hada_w1_a": "LoHa", "lokr_w1": "LoKr", "lokr_w1_a": "LoKr"}
_LORA_MARKERS = (".lora_down.", ".lora_up.", ".lora_A.", ".lora_B.", ".lora.down.", ".lora.up.", "_lora.down.")


class AddonFormatError(ValueError):
    """A file that looks like an add-on we cannot use; the message names the format."""


def family_label(family: Optional[str]) -> str:
    return FAMILY_LABELS.get(family or "", "an unknown model family")


def _lycoris(keys: set[str]) -> Optional[str]:
    for key in keys:
        for marker, name in _LYCORIS.items():
            if key.endswith(f".{marker}") or f".{marker}." in key:
                return name
    return None


def is_lora(keys: set[str]) -> bool:
    return any(marker in key for key in keys for marker in _LORA_MARKERS)


def _lora_family(keys: set[str], header: dict[str, Any], metadata: dict[str, str]) -> str:
    base = (metadata.get("ss_base_model_version") or metadata.get("modelspec.architecture") or "").lower()
    if "xl" in base:
        return "sdxl"
    if base.startswith("sd_v2") or metadata.get("ss_v2") == "True":
        return "sd2"
    if base.startswith("sd_v1") or "stable-diffusion-v1" in base:
        return "sd1"
    if any(k.startswith(("lora_te2_", "text_encoder_2.", "lora_unet_input_blocks", "lora_unet_label_emb"))
           or "add_embedding" in k for k in keys):
        return "sdxl"
    for key, info in header.items():  # the cross-attention key projection takes the text width
        if ("attn2_to_k" in key or "attn2.to_k" in key) and ("lora_down" in key or "lora_A" in key):
            width = int((info.get("shape") or [0, 0])[-1])
            if width == 1024:
                return "sd2"
            if width == 2048:
                return "sdxl"
    return "sd1"


def _rank(header: dict[str, Any]) -> Optional[int]:
    for key, info in header.items():
        if "lora_down" in key or "lora_A" in key or "lora.down" in key:
            shape = info.get("shape") or []
            if shape:
                return int(shape[0])
    return None


def trigger_words(metadata: dict[str, str]) -> list[str]:
    """The most frequent training tags (kohya's `ss_tag_frequency`), most frequent first."""
    try:
        frequency = json.loads(metadata.get("ss_tag_frequency") or "{}")
    except ValueError:
        return []
    counts: dict[str, int] = {}
    if isinstance(frequency, dict):
        for tags in frequency.values():
            if isinstance(tags, dict):
                for tag, count in tags.items():
                    tag = str(tag).strip()
                    if tag and isinstance(count, (int, float)):
                        counts[tag] = counts.get(tag, 0) + int(count)
    return [tag for tag, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TRIGGER_WORDS]]


def _embedding(header: dict[str, Any]) -> Optional[tuple[str, Optional[str], int, int]]:
    """(format, family, vectors, width) when the tensors are a textual-inversion embedding."""
    shapes = {k: [int(d) for d in (v.get("shape") or [])] for k, v in header.items()}

    def rows(shape: list[int]) -> tuple[int, int]:
        return (1, shape[0]) if len(shape) == 1 else (shape[0], shape[1])

    if "clip_l" in shapes and "clip_g" in shapes and len(shapes) == 2:
        count, _ = rows(shapes["clip_l"])
        return "embedding_sdxl", "sdxl", count, rows(shapes["clip_g"])[1]
    if len(shapes) != 1:
        return None
    (key, shape), = shapes.items()
    if len(shape) not in (1, 2) or ("." in key and key != "emb_params"):
        return None
    count, width = rows(shape)
    if not 1 <= count <= MAX_EMBEDDING_VECTORS or width > 4096:
        return None
    fmt = "embedding_a1111" if key == "emb_params" else "embedding_diffusers"
    return fmt, WIDTH_FAMILIES.get(width), count, width


def preview_for(path: Path) -> Optional[Path]:
    """A picture shipped beside the add-on, as A1111 and Civitai helpers save it."""
    for suffix in PREVIEW_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def detect_addon(path: Path, header: dict[str, Any], metadata: dict[str, str]) -> Optional[tuple[str, str, Optional[str], dict[str, Any]]]:
    """(kind, format, family, details) of a LoRA or embedding file; None for anything else.

    LyCORIS LoHa/LoKr files are refused by name: diffusers' LoRA loader cannot apply them.
    """
    keys = set(header)
    lycoris = _lycoris(keys)
    if lycoris:
        raise AddonFormatError(
            f"{path.name} is a LyCORIS {lycoris} file, not a LoRA: diffusers (which runs the LoRAs here) "
            f"cannot apply {lycoris} weights. Use a plain LoRA version of it (most are published as both)."
        )
    if is_lora(keys):
        kohya = any(k.startswith(("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_")) for k in keys)
        family = _lora_family(keys, header, metadata)
        details: dict[str, Any] = {
            "rank": _rank(header),
            "trigger_words": trigger_words(metadata),
            "base_model": metadata.get("ss_base_model_version") or None,
            "text_encoder": any(k.startswith(("lora_te", "text_encoder")) for k in keys),
        }
        return "lora", "lora_kohya" if kohya else "lora_diffusers", family, details
    found = _embedding(header)
    if found:
        fmt, family, count, width = found
        return "embedding", fmt, family, {"vectors": count, "width": width}
    return None
