"""Decode throughput of the same photos as HEIC and as JPEG, as the indexer decodes them
(`decode_image(min_side=224)`: JPEG draft scaling, HEIC's embedded thumbnail) and in full.

The photos are synthetic 12-megapixel frames (4032x3024, smooth gradients with fine noise, as
a phone camera's are), written as JPEG (quality 90) and as HEIC (pillow-heif, quality 80, a
320-pixel thumbnail, as iPhones write them). One thread, so the figure is per core.

Usage: python tests/benchmarks/heif_decode.py [--photos 6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))

from PIL import Image  # noqa: E402

from latentstudio.image_formats import register_heif  # noqa: E402
from latentstudio.library.decode import decode_image  # noqa: E402

SIZE = (4032, 3024)


def photo(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : SIZE[1], 0 : SIZE[0]].astype(np.float32)
    base = np.stack([(x / SIZE[0]) * 200 + rng.uniform(0, 55), (y / SIZE[1]) * 180 + rng.uniform(0, 75),
                     ((x + y) / sum(SIZE)) * 150 + rng.uniform(0, 100)], axis=-1)
    noisy = base + rng.normal(0, 6, base.shape).astype(np.float32)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def rate(paths: list[Path], min_side: int, rounds: int = 2) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for path in paths:
            decode_image(path, min_side=min_side)
    return rounds * len(paths) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=6)
    args = parser.parse_args()
    assert register_heif(), "pillow-heif is not installed"
    with tempfile.TemporaryDirectory(prefix="latent-heif-bench-") as tmp:
        jpegs, heics = [], []
        for i in range(args.photos):
            image = photo(i)
            jpegs.append(Path(tmp) / f"IMG_{i:04d}.jpg")
            image.save(jpegs[-1], "JPEG", quality=90)
            heics.append(Path(tmp) / f"IMG_{i:04d}.heic")
            image.info["thumbnails"] = [320]
            image.save(heics[-1], "HEIF", quality=80)
        mb = lambda paths: sum(p.stat().st_size for p in paths) / len(paths) / 2**20  # noqa: E731
        print(f"{args.photos} photos {SIZE[0]}x{SIZE[1]}: JPEG {mb(jpegs):.1f} MiB, HEIC {mb(heics):.1f} MiB each")
        for label, min_side in (("indexing (min side 224)", 224), ("full decode", 0)):
            jpeg, heic = rate(jpegs, min_side), rate(heics, min_side)
            print(f"  {label:24} JPEG {jpeg:6.1f} photos/s, HEIC {heic:6.1f} photos/s ({heic / jpeg:.2f}x)")
        assert decode_image(heics[0], min_side=224).image.size == (320, 240)
    return 0


if __name__ == "__main__":
    sys.exit(main())
