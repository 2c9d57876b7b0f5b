"""Write tiny models in the real on-disk formats: `python tests/support/make_models.py OUTDIR [NAME…]`.

Each builder writes `OUTDIR/<name>/` and never touches the network. Tests get them through
`tests/support/model_store.py`, which caches them between runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support import (
    tiny_addons,
    tiny_clip,
    tiny_diffusion,
    tiny_formats,
    tiny_inpainting,
    tiny_llm,
    tiny_text_embedding,
    tiny_upscaler,
)

Builder = Callable[[Path], None]

# name -> builder writing the model into the folder it is given (which does not exist yet)
BUILDERS: dict[str, Builder] = {
    "safetensors-samples": tiny_formats.write_samples,
    "llm-tiny": tiny_llm.write_tiny_llm,
    "text-embedding-tiny": tiny_text_embedding.write_tiny_text_embedding,
    "text-embedding-modernbert-tiny": tiny_text_embedding.write_tiny_modernbert_embedding,
    "clip-tiny": tiny_clip.write_clip_tiny,
    "clip-shapes": tiny_clip.write_clip_shapes,
    "diffusion-tiny": tiny_diffusion.write_tiny_diffusion,
    "diffusion-inpaint-tiny": tiny_inpainting.write_tiny_inpainting,
    "addons-tiny": tiny_addons.write_tiny_addons,
    "upscaler-tiny": tiny_upscaler.write_tiny_upscaler,
}


def build(name: str, outdir: Path) -> Path:
    if name not in BUILDERS:
        raise KeyError(f"unknown tiny model {name!r}; known: {', '.join(sorted(BUILDERS))}")
    target = outdir / name
    BUILDERS[name](target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("names", nargs="*", help=f"default: all of {', '.join(sorted(BUILDERS))}")
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    for name in args.names or sorted(BUILDERS):
        print(build(name, args.outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
