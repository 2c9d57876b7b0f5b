"""Indexing throughput on 12-megapixel JPEGs with the ViT-B-32 architecture (random weights).

Three measurements in one run, on the same files and model:
  encode-only  pre-made input tensors, batches of 32: the ceiling set by the model
  naive        one thread: full PIL decode + open_clip preprocess + encode, batches of 32
  ours         the library's index pipeline: draft-mode decode + thumbnails on a thread pool,
               overlapped with batched encoding on the inference thread, vectors committed per batch

Usage: python tests/benchmarks/indexing.py [--images 64] [--device auto|cpu|cuda]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))

from latentstudio.engine import DeviceInfo, Engine, detect_device  # noqa: E402
from latentstudio.library.indexer import default_workers, encode_rows  # noqa: E402
from latentstudio.library.photo_library import Library  # noqa: E402
from latentstudio.models.clip_loader import ClipModel, load_clip_random  # noqa: E402
from latentstudio.paths import Paths  # noqa: E402

BATCH = 32
SIZE = (4000, 3000)  # 12 megapixels


def make_photos(folder: Path, count: int) -> list[Path]:
    """Photo-like 12 MP JPEGs: smooth gradients plus fine noise, so they compress like photos."""
    rng = np.random.default_rng(0)
    w, h = SIZE
    small = rng.integers(0, 255, (h // 100, w // 100, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize(SIZE, Image.Resampling.BICUBIC), dtype=np.int16)
    paths = []
    for i in range(count):
        noise = rng.integers(-12, 12, (h, w, 1), dtype=np.int16)
        shifted = np.roll(base, shift=(i * 37) % h, axis=0)
        image = Image.fromarray(np.clip(shifted + noise, 0, 255).astype(np.uint8))
        path = folder / f"photo{i:04d}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def encode_only(clip: ClipModel, count: int) -> float:
    import torch

    h, w = clip.spec.size
    tensors = torch.randn(BATCH, 3, h, w)
    clip.encode_tensor(tensors[:4])  # warm-up
    start = time.perf_counter()
    done = 0
    while done < count:
        n = min(BATCH, count - done)
        clip.encode_tensor(tensors[:n])
        done += n
    return count / (time.perf_counter() - start)


def naive(clip: ClipModel, paths: list[Path]) -> float:
    import torch

    start = time.perf_counter()
    for i in range(0, len(paths), BATCH):
        batch = []
        for path in paths[i : i + BATCH]:
            with Image.open(path) as image:
                batch.append(clip.preprocess(image.convert("RGB")))
        clip.encode_tensor(torch.stack(batch))
    return len(paths) / (time.perf_counter() - start)


def ours(clip: ClipModel, paths: list[Path], home: Path, device: DeviceInfo, workers: int) -> float:
    library = Library(Paths(home).ensure())
    library.add_folder(paths[0].parent)
    library.scan()
    rows = library.store.pending("bench")
    with Engine(device=device) as engine:
        handle = engine.submit(
            lambda job: encode_rows(job, library, clip, "bench", rows, BATCH, workers), name="index"
        )
        report = handle.result()
    library.close()
    assert report.encoded == len(paths), report.to_json()
    return report.images_per_second


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, help="decode threads (default: as the indexer picks)")
    parser.add_argument("--photos", type=Path, help="keep the generated JPEGs here and reuse them")
    args = parser.parse_args()
    device = detect_device(args.device)
    print(f"device: {device.describe()}")
    clip = load_clip_random("ViT-B-32", device.torch_device, device.torch_dtype)
    workers = args.workers or default_workers(device.is_gpu)
    print(f"decode threads: {workers}")
    with tempfile.TemporaryDirectory(prefix="latent-bench-") as tmp:
        folder = args.photos or Path(tmp) / "photos"
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        paths = sorted(folder.glob("photo*.jpg"))[: args.images]
        if len(paths) < args.images:
            paths = make_photos(folder, args.images)
        size_mb = sum(p.stat().st_size for p in paths) / len(paths) / 2**20
        print(f"made {len(paths)} JPEGs of {SIZE[0]}x{SIZE[1]} ({size_mb:.1f} MiB each) in "
              f"{time.perf_counter() - start:.0f} s")
        encode_rate = encode_only(clip, args.images)
        naive_rate = naive(clip, paths)
        our_rate = ours(clip, paths, Path(tmp) / "home", device, workers)
        encode_again = encode_only(clip, args.images)
    ceiling = max(encode_rate, encode_again)
    print(f"encode-only : {encode_rate:7.2f} images/s (again after the runs: {encode_again:.2f})")
    print(f"naive       : {naive_rate:7.2f} images/s")
    print(f"ours        : {our_rate:7.2f} images/s")
    print(f"ours / naive       = {our_rate / naive_rate:.2f}x  (target >= 2x)")
    print(f"ours / encode-only = {100 * our_rate / ceiling:.0f}%  (target >= 85%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
