"""Super-resolution models (ESRGAN/Real-ESRGAN, Compact, SwinIR, HAT, DAT, OmniSR, …) read by spandrel.

A file is told to be an upscaler by its tensors: spandrel's architecture detectors look only at
key names and shapes, so they run on the safetensors header (as meta tensors) without reading any
weights. Loading then reads the weights with safetensors and hands the state dict to spandrel;
its own file loader (which unpickles .pth files) is never used: pickle files arrive here already
converted by the weights_only import (models/pickle_import.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

UPSCALER_KIND = "upscaler"
UPSCALER_FORMAT = "upscaler_spandrel"
PURPOSES = ("SR", "Restoration")  # FaceSR needs face detection around it; inpainters need a mask


class UpscalerError(ValueError):
    """spandrel cannot use the file as an image upscaler; the message names the file and why."""


def _meta_state_dict(header: dict[str, Any]) -> dict[str, Any]:
    """Tensors with the header's shapes and no data: enough for spandrel's detectors."""
    import torch

    return {key: torch.empty([int(d) for d in info.get("shape") or []], device="meta") for key, info in header.items()}


def matching_architecture(header: dict[str, Any]) -> Optional[str]:
    """The name of the spandrel architecture whose keys these tensors have, or None."""
    from spandrel import MAIN_REGISTRY, canonicalize_state_dict

    state = canonicalize_state_dict(_meta_state_dict(header))
    for support in MAIN_REGISTRY.architectures("detection"):
        try:
            if support.detect(state):
                return support.architecture.name
        except Exception:  # a detector that reads values cannot judge meta tensors: not this one
            continue
    return None


def read_upscaler(state_dict: dict[str, Any], name: str) -> Any:
    """The spandrel ImageModelDescriptor for these weights (CPU, float32, eval mode)."""
    from spandrel import ImageModelDescriptor, ModelLoader, UnsupportedModelError

    try:
        descriptor = ModelLoader().load_from_state_dict(state_dict)
    except UnsupportedModelError as exc:
        raise UpscalerError(f"{name}: spandrel recognises no super-resolution architecture in it") from exc
    except Exception as exc:  # an architecture matched but its shapes do not fit together
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UpscalerError(f"{name}: spandrel cannot read it ({reason})") from exc
    if not isinstance(descriptor, ImageModelDescriptor) or descriptor.purpose not in PURPOSES:
        purpose = getattr(descriptor, "purpose", type(descriptor).__name__)
        raise UpscalerError(f"{name}: its {descriptor.architecture.name} model is for {purpose}, not image upscaling")
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise UpscalerError(
            f"{name}: its {descriptor.architecture.name} model takes {descriptor.input_channels} channels and "
            f"gives {descriptor.output_channels}; only colour (RGB) upscalers are supported"
        )
    return descriptor.eval()


def load_upscaler(path: Path) -> Any:
    """Read an upscaler .safetensors file into a spandrel descriptor (on the CPU, float32)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state_dict = load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise UpscalerError(f"{path.name}: cannot read its weights ({exc})") from exc
    return read_upscaler(state_dict, path.name)


def describe_upscaler(descriptor: Any) -> dict[str, Any]:
    """What an installed upscaler's manifest records about it."""
    requirements = descriptor.size_requirements
    return {
        "architecture": descriptor.architecture.name,
        "scale": int(descriptor.scale),
        "purpose": descriptor.purpose,
        "tags": list(descriptor.tags),
        "tiling": descriptor.tiling.name.lower(),
        "size_multiple_of": int(requirements.multiple_of),
        "size_minimum": int(requirements.minimum),
    }


def detect_upscaler(path: Path, header: dict[str, Any]) -> Optional[dict[str, Any]]:
    """Details of an upscaler file; None when no spandrel architecture has these keys.

    Raises UpscalerError when an architecture has the keys but spandrel cannot build it."""
    if not header or matching_architecture(header) is None:
        return None
    return describe_upscaler(load_upscaler(path))


def upscaler_scale(model: Any) -> int:
    """An installed upscaler's own scale, from its manifest."""
    return int(model.extra.get("scale") or 1)
