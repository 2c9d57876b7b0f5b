"""Cold CLI text search: whole `latent-studio search "…" --json` processes, against
`python -c "import torch, open_clip"` in the same run, with peak RSS.

The model is a real-size ViT-B-32 open_clip folder in the hub layout (`open_clip_config.json` +
`open_clip_model.safetensors`, random weights: speed does not depend on them), built from
open_clip's own config on first use and cached outside the checkout. Two data homes share it
(imported as a link): a small library of 76 pictures and a 1M-vector library (synthetic clustered
vectors, as in search_latency.py) with its saved approximate index. Each is searched by fresh
processes, first with the fast path (the ONNX text tower, exported once beforehand) and then with
it switched off (`LATENT_STUDIO_TEXT_TOWER=torch`), alternating with the torch import baseline.

Usage: python tests/benchmarks/cold_search.py [--rounds 3] [--skip-1m]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "desktop"))

import platformdirs  # noqa: E402

CACHE = Path(os.environ.get("LATENT_STUDIO_BENCH_CACHE") or platformdirs.user_cache_path("latent-studio") / "bench")
ARCH = "ViT-B-32"
SMALL_PICTURES = 76
LARGE_VECTORS = 1_000_000
QUERY = "a red circle"


def model_folder() -> Path:
    """ViT-B-32 in open_clip's hub layout with random weights (seeded), built once."""
    folder = CACHE / "vit-b-32-random"
    if (folder / "open_clip_model.safetensors").is_file():
        return folder
    import open_clip
    import torch
    from open_clip.push_to_hf_hub import save_config_for_hf
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.create_model(ARCH, pretrained=None)
    staging = Path(tempfile.mkdtemp(prefix=".vit-b-32-", dir=CACHE if CACHE.is_dir() else None))
    save_config_for_hf(model, staging / "open_clip_config.json", open_clip.get_model_config(ARCH))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(staging / "open_clip_model.safetensors"))
    CACHE.mkdir(parents=True, exist_ok=True)
    os.rename(staging, folder)
    return folder


if __name__ == "__main__":
    print(model_folder())
