"""`upscaler-tiny`: super-resolution models of real architectures, tiny, in the files users have.

Writes into the folder it is given:
  compact-x2.safetensors    Real-ESRGAN Compact (SRVGGNetCompact), 2x, 8 features, 2 body convs:
                            a receptive field of 4 pixels, so tiling with overlap can be checked exactly
  esrgan-x4.pth             ESRGAN (RRDBNet), 4x, 8 filters, 1 block, saved with torch.save under
                            BasicSR's `params_ema` key as Real-ESRGAN's releases are
  evil-upscaler.pth         a .pth whose unpickling would build a Python object: refused
  broken-esrgan.safetensors ESRGAN's key names with shapes that do not fit together: spandrel refuses
  not-a-model.safetensors   two tensors no architecture has

Weights are random but seeded; biases are small so the models' pictures stay near the input's
colours (a "wrong" tiling shows as a visible difference, a right one as none).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file
from spandrel.architectures.Compact import Compact
from spandrel.architectures.ESRGAN import ESRGAN

SEED = 2312


def tiny_compact() -> torch.nn.Module:
    torch.manual_seed(SEED)
    return Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2)


def tiny_esrgan() -> torch.nn.Module:
    torch.manual_seed(SEED + 1)
    return ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4)


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone().contiguous() for key, value in model.state_dict().items()}


def write_tiny_upscaler(root: Path) -> None:
    root.mkdir(parents=True)
    save_file(_state(tiny_compact()), str(root / "compact-x2.safetensors"))
    torch.save({"params_ema": _state(tiny_esrgan())}, root / "esrgan-x4.pth")
    torch.save({"params_ema": _state(tiny_compact()), "hook": Path("/")}, root / "evil-upscaler.pth")
    broken = _state(tiny_esrgan())
    broken["model.0.weight"] = torch.zeros(16, 3, 3, 3)  # 16 filters first, while the next layers take 8
    save_file(broken, str(root / "broken-esrgan.safetensors"))
    save_file({"alpha.weight": torch.zeros(4, 4), "beta.bias": torch.zeros(4)}, str(root / "not-a-model.safetensors"))
