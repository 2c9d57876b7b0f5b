"""The LoRAs and embeddings an image names, as each tool writes them.

- AUTOMATIC1111 / Forge / SD.Next: `<lora:NAME:W>` in the prompt, `Lora hashes: "NAME: HASH, …"`,
  `TI hashes: "NAME: HASH, …"`.
- ComfyUI: `LoraLoader` / `LoraLoaderModelOnly` nodes (`lora_name`, `strength_model`,
  `strength_clip`); `embedding:NAME` in prompt text.
- InvokeAI 3-5: `loras: [{model|lora: {name|model_name, hash}, weight}]`.
- Fooocus: `loras: [[name, weight(, hash)]]`, or `LoRA N` / `lora_combined_N`: "name : weight".
- Ours: `loras` / `embeddings` lists.

Each is a dict {"name", "weight", "te_weight", "hash"} with only what the file said. Names are
for display and matching installed add-ons: the file's folder and extension are dropped; nothing
read is used as a path.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from ..prompt_syntax import PromptSyntaxError, extract_loras
from .values import check_float, check_hash, check_name

MAX_ADDONS = 32
WEIGHT_RANGE = (-10.0, 10.0)
_SUFFIX = re.compile(r"\.(safetensors|ckpt|pt|pth|bin)$", re.IGNORECASE)
_COMFY_EMBEDDING = re.compile(r"embedding:([\w.\-/\\ ]+?)(?=[\s,()\[\]:]|$)")


def addon_name(value: Any) -> Optional[str]:
    name = check_name(value)
    if not name:
        return None
    name = re.split(r"[/\\]", name)[-1]
    return _SUFFIX.sub("", name).strip() or None


def _weight(value: Any) -> Optional[float]:
    return check_float(value, *WEIGHT_RANGE)


def _entry(name: Any, weight: Any = None, te_weight: Any = None, digest: Any = None) -> Optional[dict[str, Any]]:
    clean = addon_name(name)
    if clean is None:
        return None
    entry: dict[str, Any] = {"name": clean}
    if _weight(weight) is not None:
        entry["weight"] = _weight(weight)
    if _weight(te_weight) is not None:
        entry["te_weight"] = _weight(te_weight)
    if check_hash(digest):
        entry["hash"] = check_hash(digest)
    return entry


def _merge(entries: list[Optional[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One entry per name (later details fill in earlier ones), in order, at most MAX_ADDONS."""
    merged: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry is not None:
            merged.setdefault(entry["name"].lower(), {}).update(entry)
    return list(merged.values())[:MAX_ADDONS]


def hash_list(text: Any) -> list[dict[str, Any]]:
    """A1111's `"name: hash, name2: hash2"`."""
    if not isinstance(text, str):
        return []
    entries = []
    for part in text.split(",")[:MAX_ADDONS]:
        name, _, digest = part.rpartition(":")
        entries.append(_entry(name, digest=digest))
    return [e for e in entries if e is not None]


def a1111_addons(prompt: str, negative: str, pairs: dict[str, str]) -> tuple[list[dict], list[dict]]:
    tags = []
    for text in (prompt, negative):
        try:
            tags += extract_loras(text)[1]
        except PromptSyntaxError:
            continue
    loras = [_entry(t.name, t.unet_weight, t.te_weight) for t in tags]
    hashes = {e["name"].lower(): e for e in hash_list(pairs.get("Lora hashes"))}
    for entry in loras:
        if entry is not None and entry["name"].lower() in hashes:
            entry["hash"] = hashes[entry["name"].lower()]["hash"]
    return _merge(loras + list(hashes.values())), _merge(hash_list(pairs.get("TI hashes")))


def comfyui_addons(graph: dict[str, Any], prompt: str, negative: str) -> tuple[list[dict], list[dict]]:
    loras = []
    for node in list(graph.values())[:5_000]:
        if not isinstance(node, dict) or not str(node.get("class_type", "")).startswith("LoraLoader"):
            continue
        inputs = node.get("inputs") if isinstance(node.get("inputs"), dict) else {}
        loras.append(_entry(inputs.get("lora_name"), inputs.get("strength_model"), inputs.get("strength_clip")))
    embeddings = [_entry(m) for text in (prompt, negative) for m in _COMFY_EMBEDDING.findall(text)]
    return _merge(loras), _merge(embeddings)


def invokeai_addons(data: dict[str, Any]) -> list[dict]:
    items = data.get("loras")
    entries = []
    for item in items[:MAX_ADDONS] if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        model = item.get("model") or item.get("lora") or {}
        if not isinstance(model, dict):
            continue
        digest = str(model.get("hash", "")).split(":")[-1]  # "blake3:…" / "sha256:…"
        entries.append(_entry(model.get("name") or model.get("model_name"), item.get("weight"), digest=digest))
    return _merge(entries)


_FOOOCUS_PAIR = re.compile(r"^(.+?)\s*:\s*([-+]?\d*\.?\d+)\s*$")


def fooocus_addons(data: dict[str, Any]) -> list[dict]:
    entries = []
    items = data.get("loras")
    for item in items[:MAX_ADDONS] if isinstance(items, list) else []:
        if isinstance(item, (list, tuple)) and item:
            entries.append(_entry(item[0], item[1] if len(item) > 1 else None,
                                  digest=item[2] if len(item) > 2 else None))
    for key, value in data.items():
        if re.fullmatch(r"(LoRA|lora_combined)[ _]\d+", str(key)) and isinstance(value, str):
            match = _FOOOCUS_PAIR.match(value.strip())
            entries.append(_entry(match.group(1), match.group(2)) if match else _entry(value))
    return _merge(entries)


def ours_addons(data: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    def read(key: str, weights: bool) -> list[dict]:
        items = data.get(key)
        out = []
        for item in items[:MAX_ADDONS] if isinstance(items, list) else []:
            if isinstance(item, dict):
                out.append(_entry(item.get("name"), item.get("unet_weight") if weights else None,
                                  item.get("te_weight") if weights else None, item.get("hash")))
        return _merge(out)

    return read("loras", True), read("embeddings", False)


def addon_text(entry: dict[str, Any]) -> str:
    """"detail (0.8, hash 0123abcd4567)" for listing what an image used."""
    parts = []
    if "weight" in entry:
        te = entry.get("te_weight")
        parts.append(f"{entry['weight']:g}" if te is None or te == entry["weight"] else f"TE {te:g} / UNet {entry['weight']:g}")
    if entry.get("hash"):
        parts.append(f"hash {entry['hash']}")
    return entry["name"] + (f" ({', '.join(parts)})" if parts else "")
