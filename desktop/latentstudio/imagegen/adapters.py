"""LoRAs and embeddings for one generation: found by the names a prompt uses, checked against the
model's family, applied to the cached pipeline.

LoRAs go through diffusers' PEFT backend: each is loaded once as a named adapter and stays on the
cached pipeline; a generation switches the active set and weights with `set_adapters` (or turns
them all off), so changing LoRAs costs no reload and the base weights are never modified (no
fusing). At most MAX_RESIDENT_ADAPTERS stay loaded; the least recently used is deleted first.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..models.addons import family_label
from ..models.registry import InstalledModel, slugify
from .prompt_encoding import TextualInversion
from .prompt_syntax import LoraTag, extract_loras

if TYPE_CHECKING:
    from ..models import ModelRegistry
    from .loading import LoadedPipeline

log = logging.getLogger(__name__)

MAX_RESIDENT_ADAPTERS = 8
SHORT_HASH_DIGITS = 12  # A1111 writes LoRA and embedding hashes as 12 hex digits
HASH_CHUNK = 4 * 2**20


class AddonError(ValueError):
    """A LoRA or embedding the prompt names that cannot be used; the message says why in words."""


@dataclass(frozen=True)
class ChosenLora:
    model: InstalledModel
    tag: LoraTag


@dataclass(frozen=True)
class Addons:
    """What one prompt pair uses: the prompts without LoRA tags, the LoRAs, the embeddings."""

    prompt: str
    negative_prompt: str
    loras: list[ChosenLora] = field(default_factory=list)
    embeddings: list[InstalledModel] = field(default_factory=list)


def _by_name(models: list[InstalledModel], name: str) -> Optional[InstalledModel]:
    wanted = {name.lower(), slugify(name)}
    for model in models:
        if model.id.lower() in wanted or str(model.extra.get("name", "")).lower() in wanted:
            return model
    return None


def embedding_word(model: InstalledModel) -> str:
    """The word that calls an embedding in a prompt: its id (A1111: the file name)."""
    return model.id


def embeddings_in(text: str, installed: list[InstalledModel]) -> list[InstalledModel]:
    found = []
    for model in installed:
        word = embedding_word(model)
        if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.IGNORECASE):
            found.append(model)
    return found


def resolve_addons(registry: "ModelRegistry", prompt: str, negative_prompt: str) -> Addons:
    """The LoRAs (`<lora:NAME:W>` in either prompt) and embeddings (their names as words) a request
    uses; a LoRA that is not installed is refused with the names that are."""
    clean, tags = extract_loras(prompt)
    clean_negative, negative_tags = extract_loras(negative_prompt)
    installed = registry.list("lora")
    chosen, missing = [], []
    for tag in tags + negative_tags:
        model = _by_name(installed, tag.name)
        if model is None:
            missing.append(tag.name)
        else:
            chosen.append(ChosenLora(model, tag))
    if missing:
        have = ", ".join(m.id for m in installed) or "none"
        raise AddonError(
            f"no LoRA named {', '.join(missing)} is installed (installed LoRAs: {have}); import it on the "
            "Models page or with `latent-studio models import FILE --kind lora`"
        )
    embeddings = embeddings_in(clean + "\n" + clean_negative, registry.list("embedding"))
    return Addons(clean, clean_negative, chosen, embeddings)


def check_family(model: InstalledModel, variant: str, model_id: str) -> None:
    if model.variant and model.variant != variant:
        what = "LoRA" if model.kind == "lora" else "embedding"
        raise AddonError(
            f"{what} {model.id} is made for {family_label(model.variant)} models; "
            f"{model_id} is {family_label(variant)}: choose a {family_label(model.variant)} model or another {what}"
        )


def adapter_name(model: InstalledModel) -> str:
    return re.sub(r"\W", "_", model.id)  # PEFT keeps adapters in module dicts: no dots


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def apply_loras(loaded: "LoadedPipeline", loras: list[ChosenLora]) -> None:
    """Make exactly `loras` active with their weights on the cached pipeline, loading only new ones."""
    pipe = loaded.pipe
    resident: dict[str, tuple[int, int]] = loaded.adapters
    for chosen in loras:
        check_family(chosen.model, loaded.variant, loaded.model_id)
    if not loras:
        if resident:
            pipe.disable_lora()
        return
    for chosen in loras:
        name, stamp = adapter_name(chosen.model), _stamp(chosen.model.path)
        if resident.get(name) == stamp:
            resident[name] = resident.pop(name)  # most recently used last
            continue
        if name in resident:  # the file changed since it was loaded
            pipe.delete_adapters([name])
            del resident[name]
        try:
            with warnings.catch_warnings():  # PEFT warns on every second adapter: that is the point here
                warnings.filterwarnings("ignore", message="Already found a `peft_config`")
                pipe.load_lora_weights(str(chosen.model.path), adapter_name=name)
        except (ValueError, KeyError, RuntimeError, OSError) as exc:
            raise AddonError(f"LoRA {chosen.model.id} does not fit {loaded.model_id}: {str(exc)[:300]}") from exc
        resident[name] = stamp
    wanted = {adapter_name(c.model) for c in loras}
    for name in [n for n in resident if n not in wanted][: max(0, len(resident) - MAX_RESIDENT_ADAPTERS)]:
        pipe.delete_adapters([name])
        del resident[name]
    pipe.enable_lora()
    parts = pipe.get_list_adapters()  # {"unet": [names], "text_encoder": [names], …}
    weights = []
    for chosen in loras:
        per_part = {"unet": chosen.tag.unet_weight}
        for part in ("text_encoder", "text_encoder_2"):
            if adapter_name(chosen.model) in parts.get(part, ()):  # a UNet-only LoRA has no text-encoder part
                per_part[part] = chosen.tag.te_weight
        weights.append(per_part)
    pipe.set_adapters([adapter_name(c.model) for c in loras], adapter_weights=weights)


def load_embedding(model: InstalledModel) -> TextualInversion:
    """The vectors of an installed embedding, per encoder: `clip_l` (and `clip_g` for SDXL)."""
    from safetensors.torch import load_file

    tensors = load_file(str(model.path))
    if "clip_l" in tensors and "clip_g" in tensors:
        vectors = {"clip_l": tensors["clip_l"], "clip_g": tensors["clip_g"]}
    else:
        (only,) = tensors.values()
        vectors = {"clip_l": only}
    vectors = {k: (v.unsqueeze(0) if v.dim() == 1 else v).float() for k, v in vectors.items()}
    return TextualInversion(embedding_word(model), vectors)


def embeddings_for(loaded: "LoadedPipeline", models: list[InstalledModel]) -> dict[str, TextualInversion]:
    """Loaded embeddings (kept on the pipeline, reread when the file changes)."""
    cache: dict[str, tuple[tuple[int, int], TextualInversion]] = loaded.embeddings
    found = {}
    for model in models:
        check_family(model, loaded.variant, loaded.model_id)
        stamp = _stamp(model.path)
        held = cache.get(model.id)
        if held is None or held[0] != stamp:
            held = (stamp, load_embedding(model))
            cache[model.id] = held
        found[held[1].name] = held[1]
    return found


# -- short hashes, as A1111 writes them into `Lora hashes` and `TI hashes` -----------------------


def autov3_hash(path: Path) -> str:
    """SHA-256 of a .safetensors file's tensor data, without its header (kohya's "addnet" hash,
    Civitai's AutoV3): what A1111 writes for a LoRA; metadata edits do not change it."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        fh.seek(8 + length)
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=64)
def _autov3_of(path: str, size: int, mtime_ns: int) -> str:  # size and mtime: a changed file is hashed again
    return autov3_hash(Path(path))


def lora_hash(model: InstalledModel) -> str:
    return _autov3_of(str(model.path), *_stamp(model.path))[:SHORT_HASH_DIGITS]


def embedding_hash(registry: "ModelRegistry", model: InstalledModel) -> str:
    full = registry.file_sha256(model) or ""
    return full[:SHORT_HASH_DIGITS]


# -- Reuse settings: the add-ons an image names, matched against what is installed ------------


@dataclass(frozen=True)
class ReusedAddons:
    prompt: str  # the prompts without their <lora:…> tags (the LoRAs are listed apart)
    negative_prompt: str
    loras: list[LoraTag]  # installed LoRAs, under their installed ids, with the image's weights
    missing: list[str]  # "LoRA add_detail (hash 7c6bad76eb54)": what the image used and we lack


def _described(kind: str, entry: dict[str, Any]) -> str:
    return f"{kind} {entry['name']}" + (f" (hash {entry['hash']})" if entry.get("hash") else "")


def reuse_addons(registry: "ModelRegistry", prompt: str, negative_prompt: str,
                 loras: list[dict[str, Any]], embeddings: list[dict[str, Any]]) -> ReusedAddons:
    """Match an image's LoRAs (from its tags and its tool's own records) and embeddings by name.

    Tags leave the prompt: installed LoRAs go to the picker, missing ones are listed in words
    (so Generate works at once, and the user knows what differs from the original)."""
    try:
        clean, tags = extract_loras(prompt)
        clean_negative, negative_tags = extract_loras(negative_prompt)
    except ValueError:
        return ReusedAddons(prompt, negative_prompt, [], [])
    entries: dict[str, dict[str, Any]] = {}
    for tag in tags + negative_tags:
        entries[tag.name.lower()] = {"name": tag.name, "weight": tag.unet_weight, "te_weight": tag.te_weight}
    for entry in loras:
        entries.setdefault(entry["name"].lower(), {}).update({k: v for k, v in entry.items()})
    installed, found, missing = registry.list("lora"), [], []
    for entry in entries.values():
        model = _by_name(installed, entry["name"])
        unet = float(entry.get("weight", 1.0))
        te = float(entry.get("te_weight", unet))
        if model is None:
            missing.append(_described("LoRA", entry))
        else:
            found.append(LoraTag(model.id, te, unet))
    have = {m.id.lower() for m in registry.list("embedding")}
    for entry in embeddings:
        if entry["name"].lower() not in have and slugify(entry["name"]) not in have:
            missing.append(_described("embedding", entry))
    clean, clean_negative = (_COMFY_EMBEDDING.sub(_bare_name, text) for text in (clean, clean_negative))
    return ReusedAddons(clean, clean_negative, found, missing)


# ComfyUI writes `embedding:NAME.pt` where A1111 (and we) write the bare name.
_COMFY_EMBEDDING = re.compile(r"\bembedding:([\w.\-]+?)(?:\.(?:safetensors|pt|bin))?(?=[\s,()\[\]:]|$)")


def _bare_name(match: "re.Match[str]") -> str:
    return match.group(1)
