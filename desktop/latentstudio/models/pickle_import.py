"""Opt-in import of pickle checkpoints (.ckpt/.bin/.pt/.pth): read with torch's `weights_only`
unpickler, which builds only tensors and plain containers and refuses anything that would run
code, then written out as .safetensors. Only the converted copy is installed, so loaders never
see a pickle.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

from .detect import PICKLE_SUFFIXES, UnsupportedModelError

# Names the loaders look for, per pickle name their libraries used to write.
RENAMES = {
    "pytorch_model.bin": "model.safetensors",
    "open_clip_pytorch_model.bin": "open_clip_model.safetensors",
    "diffusion_pytorch_model.bin": "diffusion_pytorch_model.safetensors",
}
SHARD_INDEX = "pytorch_model.bin.index.json"
# The EMA weights first, as spandrel's canonicalize_state_dict picks them.
BASICSR_KEYS = ("params_ema", "params-ema", "params")


def is_pickle(path: Path) -> bool:
    return path.suffix.lower() in PICKLE_SUFFIXES


def needs_conversion(source: Path) -> bool:
    """A pickle file, or a folder whose weights are only pickles."""
    if source.is_file():
        return is_pickle(source)
    if source.is_dir():
        files = [p for p in source.rglob("*") if p.is_file()]
        return any(is_pickle(p) for p in files) and not any(p.suffix == ".safetensors" for p in files)
    return False


def _state_dict(loaded: Any, name: str) -> dict[str, Any]:
    import torch

    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]  # Lightning / SD / open_clip training checkpoints
    for key in BASICSR_KEYS:  # BasicSR (Real-ESRGAN, SwinIR, HAT…) saves its weights under one of these
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
            break
    if isinstance(loaded, dict) and isinstance(loaded.get("string_to_param"), dict):
        # An A1111 textual-inversion embedding: its vectors under "*", saved as A1111's safetensors do.
        params = [v for v in loaded["string_to_param"].values() if isinstance(v, torch.Tensor)]
        if len(params) != 1:
            raise UnsupportedModelError(f"{name}: an embedding with {len(params)} vector sets; expected one")
        loaded = {"emb_params": params[0]}
    if not isinstance(loaded, dict):
        raise UnsupportedModelError(f"{name}: holds a {type(loaded).__name__}, not a dictionary of tensors")
    tensors: dict[str, Any] = {}
    seen: set[tuple[int, int]] = set()
    for key, value in loaded.items():
        if not isinstance(value, torch.Tensor):
            continue  # step counters, optimiser settings: not weights
        value = value.contiguous()
        storage = (value.untyped_storage().data_ptr(), value.storage_offset())
        if storage in seen:  # tied weights: safetensors stores each tensor on its own
            value = value.clone()
        seen.add(storage)
        tensors[str(key)] = value
    if not tensors:
        raise UnsupportedModelError(f"{name}: no tensors inside")
    return tensors


def load_weights_only(path: Path) -> dict[str, Any]:
    import torch

    try:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            loaded = torch.load(path, map_location="cpu", weights_only=True)  # legacy format
    except pickle.UnpicklingError as exc:
        reason = str(exc).strip().splitlines()[0][:200]
        raise UnsupportedModelError(
            f"{path.name}: refused: it holds Python objects other than tensors, which could run "
            f"code when loaded ({reason})"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise UnsupportedModelError(
            f"{path.name}: not a readable PyTorch checkpoint (truncated or corrupt?): {str(exc)[:200]}"
        ) from exc
    return _state_dict(loaded, path.name)


def convert_file(source: Path, target: Path) -> Path:
    from safetensors.torch import save_file

    save_file(load_weights_only(source), str(target))
    return target


def _converted_name(name: str) -> str:
    if name in RENAMES:
        return RENAMES[name]
    if name.startswith("pytorch_model-") and name.endswith(".bin"):  # transformers shards
        return "model-" + name[len("pytorch_model-") : -len(".bin")] + ".safetensors"
    return Path(name).stem + ".safetensors"


def convert_folder(source: Path, target: Path) -> Path:
    """Copy a model folder, writing each pickle weights file as .safetensors instead."""
    target.mkdir(parents=True)
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_symlink() or any(part.startswith(".") for part in relative.parts):
            continue
        destination = target / relative
        if path.is_dir():
            destination.mkdir(exist_ok=True)
        elif is_pickle(path):
            convert_file(path, destination.with_name(_converted_name(path.name)))
        elif path.name == SHARD_INDEX:
            index = json.loads(path.read_text(encoding="utf-8"))
            index["weight_map"] = {k: _converted_name(v) for k, v in index.get("weight_map", {}).items()}
            destination.with_name("model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
        else:
            shutil.copy2(path, destination)
    return target


def convert(source: Path, workdir: Path) -> Path:
    """The converted copy of `source` (a file or folder), written under `workdir`."""
    if source.is_file():
        return convert_file(source, workdir / f"{source.stem}.safetensors")
    return convert_folder(source, workdir / source.name)
