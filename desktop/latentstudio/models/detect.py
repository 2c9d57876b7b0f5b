"""Tell what a model folder or file is from its content (configs and headers), not its name."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .addons import ADDON_KINDS, AddonFormatError, detect_addon
from .safetensors_header import InvalidWeightsError, read_header, read_header_and_metadata
from .upscalers import UPSCALER_FORMAT, UPSCALER_KIND, UpscalerError, detect_upscaler

BASE_KINDS = ("clip", "diffusion", "llm", "text-embedding")
KINDS = BASE_KINDS + ADDON_KINDS + (UPSCALER_KIND,)
PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth")


class UnsupportedModelError(ValueError):
    """The path is not a model we can load; the message says what was expected."""


@dataclass(frozen=True)
class DetectedModel:
    kind: str
    format: str  # open_clip_hub | open_clip_checkpoint | diffusers | sd_single_file | transformers | sentence_transformers
    variant: Optional[str] = None  # e.g. sd1 / sd2 / sdxl for single-file checkpoints
    details: dict[str, Any] = field(default_factory=dict)


EXPECTED = (
    "expected one of: an open_clip folder (open_clip_config.json + open_clip_model.safetensors), "
    "a diffusers folder (model_index.json), a single-file Stable Diffusion .safetensors checkpoint, "
    "a transformers language-model folder (config.json, tokenizer, .safetensors weights), "
    "a sentence-transformers text-embedding folder (modules.json, a pooling config), "
    "an open_clip .safetensors checkpoint with its architecture name, "
    "a LoRA or a textual-inversion embedding (.safetensors), "
    "a super-resolution upscaler spandrel reads (.safetensors; .pth with --kind upscaler)"
)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnsupportedModelError(f"{path.name} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise UnsupportedModelError(f"{path.name} is not a JSON object")
    return data


def _check_weights(files: list[Path], what: str) -> None:
    if not files:
        raise UnsupportedModelError(f"{what}: no .safetensors weights found")
    for weights in files:
        try:
            read_header(weights)
        except InvalidWeightsError as exc:
            raise UnsupportedModelError(str(exc)) from exc


def _refuse_pickle(folder: Path, what: str) -> None:
    pickles = sorted(p.name for p in folder.rglob("*") if p.suffix in PICKLE_SUFFIXES)
    detail = f" (found only {', '.join(pickles[:3])})" if pickles else ""
    raise UnsupportedModelError(
        f"{what}: no .safetensors weights{detail}. Pickle files can run code when loaded, "
        "so they are imported only on request (--weights-only, or \"Accept pickle checkpoints\" "
        "on the Models page), converted to .safetensors"
    )


def detect_folder(folder: Path) -> DetectedModel:
    if (folder / "open_clip_config.json").is_file():
        config = _read_json(folder / "open_clip_config.json")
        weights = folder / "open_clip_model.safetensors"
        if not weights.is_file():
            _refuse_pickle(folder, "open_clip folder")
        _check_weights([weights], "open_clip folder")
        return DetectedModel("clip", "open_clip_hub", details={"model_cfg": "model_cfg" in config})
    if (folder / "model_index.json").is_file():
        index = _read_json(folder / "model_index.json")
        weights = sorted(folder.glob("*/*.safetensors"))
        if not weights:
            _refuse_pickle(folder, "diffusers folder")
        _check_weights(weights, "diffusers folder")
        return DetectedModel(
            "diffusion", "diffusers", details={"pipeline": index.get("_class_name", "")}
        )
    if (folder / "modules.json").is_file():
        return _sentence_transformers(folder)
    if (folder / "config.json").is_file():
        config = _read_json(folder / "config.json")
        architectures = config.get("architectures") or []
        if not any(str(a).endswith("ForCausalLM") for a in architectures):
            raise UnsupportedModelError(
                f"{folder.name}: config.json describes {architectures or config.get('model_type')!r}, "
                "not a causal language model (…ForCausalLM)"
            )
        tokenizer_files = ("tokenizer.json", "tokenizer.model", "vocab.json")
        if not any((folder / name).is_file() for name in tokenizer_files):
            raise UnsupportedModelError(
                f"{folder.name}: no tokenizer (tokenizer.json, tokenizer.model or vocab.json)"
            )
        weights = sorted(folder.glob("*.safetensors"))
        if not weights:
            _refuse_pickle(folder, "transformers folder")
        _check_weights(weights, "transformers folder")
        return DetectedModel(
            "llm", "transformers", details={"model_type": config.get("model_type", "")}
        )
    raise UnsupportedModelError(f"{folder.name}: unknown model folder; {EXPECTED}")


# The module types a text-embedding folder may name: sentence-transformers' own, never code that
# the folder brings with it (trust_remote_code stays off).
SENTENCE_MODULES = {"Transformer", "Pooling", "Normalize", "Dense"}


def _sentence_transformers(folder: Path) -> DetectedModel:
    """A sentence-transformers folder: its own modules only, a BERT-like encoder without custom
    code, a tokenizer, safetensors weights; the pooling config gives the vector's dimension."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnsupportedModelError(f"modules.json is not valid JSON ({exc})") from exc
    if not isinstance(modules, list) or not modules or not all(isinstance(m, dict) for m in modules):
        raise UnsupportedModelError(f"{folder.name}: modules.json lists no modules")
    names = []
    for module in modules:
        kind = str(module.get("type", ""))
        name = kind.rsplit(".", 1)[-1]
        if not kind.startswith("sentence_transformers.") or name not in SENTENCE_MODULES:
            raise UnsupportedModelError(
                f"{folder.name}: modules.json names {kind!r}, code the folder would have to run; "
                f"only sentence-transformers' own modules load ({', '.join(sorted(SENTENCE_MODULES))})"
            )
        names.append(name)
    pooling = next((m for m in modules if str(m.get("type", "")).endswith(".Pooling")), None)
    if names[0] != "Transformer" or pooling is None:
        raise UnsupportedModelError(f"{folder.name}: a text-embedding folder needs a Transformer and a Pooling module")
    pooling_config = folder / str(pooling.get("path", "")) / "config.json"
    if not pooling_config.is_file():
        raise UnsupportedModelError(f"{folder.name}: no pooling config ({pooling_config.relative_to(folder)})")
    pooling_data = _read_json(pooling_config)  # sentence-transformers 2–5 and 6 name the size differently
    dimension = pooling_data.get("word_embedding_dimension", pooling_data.get("embedding_dimension"))
    config = _read_json(folder / "config.json") if (folder / "config.json").is_file() else None
    if config is None:
        raise UnsupportedModelError(f"{folder.name}: no config.json for the encoder")
    if config.get("auto_map"):
        raise UnsupportedModelError(
            f"{folder.name}: its encoder needs code from the folder (auto_map); only models transformers "
            "itself knows load"
        )
    if not any((folder / name).is_file() for name in ("tokenizer.json", "vocab.txt", "tokenizer.model")):
        raise UnsupportedModelError(f"{folder.name}: no tokenizer (tokenizer.json, vocab.txt or tokenizer.model)")
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        _refuse_pickle(folder, "sentence-transformers folder")
    _check_weights(weights, "sentence-transformers folder")
    return DetectedModel(
        "text-embedding", "sentence_transformers",
        details={"model_type": config.get("model_type", ""), "dimension": dimension,
                 "modules": names, "normalized": "Normalize" in names},
    )


def _sd_variant(keys: set[str]) -> Optional[str]:
    if not any(k.startswith("model.diffusion_model.") for k in keys):
        return None
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return "sdxl"
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        return "sd2"
    return "sd1"


def detect_file(path: Path) -> DetectedModel:
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise UnsupportedModelError(
            f"{path.name}: pickle checkpoints (.ckpt/.bin/.pt/.pth) can run code when loaded; "
            "convert it to .safetensors first, or import it with --weights-only (read with "
            "torch's weights_only loader and saved as .safetensors; an A1111 embedding .pt with "
            "--kind embedding is read that way, and an upscaler .pth with --kind upscaler)"
        )
    if path.suffix.lower() != ".safetensors":
        raise UnsupportedModelError(f"{path.name}: not a .safetensors file; {EXPECTED}")
    try:
        header, metadata = read_header_and_metadata(path)
    except InvalidWeightsError as exc:
        raise UnsupportedModelError(str(exc)) from exc
    keys = set(header)
    variant = _sd_variant(keys)
    if variant:
        return DetectedModel("diffusion", "sd_single_file", variant=variant)
    if "token_embedding.weight" in keys and any(k.startswith("visual.") for k in keys):
        return DetectedModel("clip", "open_clip_checkpoint")
    try:
        addon = detect_addon(path, header, metadata)
    except AddonFormatError as exc:
        raise UnsupportedModelError(str(exc)) from exc
    if addon:
        kind, fmt, family, details = addon
        return DetectedModel(kind, fmt, variant=family, details=details)
    try:
        upscaler = detect_upscaler(path, header)
    except UpscalerError as exc:
        raise UnsupportedModelError(str(exc)) from exc
    if upscaler:
        return DetectedModel(UPSCALER_KIND, UPSCALER_FORMAT, variant=f"{upscaler['scale']}x", details=upscaler)
    raise UnsupportedModelError(
        f"{path.name}: its tensors match no known model layout; {EXPECTED}"
    )


def detect_model(path: Path) -> DetectedModel:
    if path.is_symlink() and not path.exists():
        raise UnsupportedModelError(f"{path}: broken link")
    if path.is_dir():
        return detect_folder(path)
    if path.is_file():
        return detect_file(path)
    raise UnsupportedModelError(f"{path}: no such file or folder")
