"""Camera RAW and videos indexed on the CPU by whole `latent-studio index` processes (the
real-size ViT-B-32 with random weights of cold_search.py, both towers exported, onnxruntime
encoding), each run on a fresh copy of a home where the model is ready:

  RAW, preview    24 MP DNGs (6000×4000 Bayer mosaic, 16-bit) with a 1620×1080 JPEG preview, as cameras write
  RAW, demosaic   the same DNGs without a usable preview: LibRaw's half-size demosaic (3000×2000)
  12 MP JPEG      the baseline: JPEGs of the same scenes at 4000×3000
  video           1080p H.264 videos, a scene change every 10 s, a keyframe every 2 s (as phones write)

and, in this process, the decoding alone (the files' share of the time spent decoding).

Usage: python tests/benchmarks/photo_folder_files.py [--raws 24] [--videos 3] [--minutes 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from cold_search import CACHE, cli, model_folder, run  # noqa: E402
from index_fixed_cost import base_home  # noqa: E402


def scene(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A photo-like picture: smooth colour fields plus fine noise."""
    w, h = size
    small = rng.integers(0, 255, (max(2, h // 400), max(2, w // 400), 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
    noise = rng.integers(-10, 10, (h, w, 1), dtype=np.int16)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def raw_folders(count: int) -> dict[str, Path]:
    """The three picture folders, made once and cached."""
    from tests.support.camera_files import make_dng

    folders = {name: CACHE / f"camera-{name}-{count}" for name in ("preview", "demosaic", "jpeg")}
    if all((f / ".ready").is_file() for f in folders.values()):
        return folders
    rng = np.random.default_rng(5)
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for i in range(count):
        picture = scene(rng, (6000, 4000))
        make_dng(folders["preview"] / f"DSC_{i:04d}.dng", picture, preview=1620)
        make_dng(folders["demosaic"] / f"DSC_{i:04d}.dng", picture, preview=None)
        picture.resize((4000, 3000)).save(folders["jpeg"] / f"DSC_{i:04d}.jpg", quality=90)
    for folder in folders.values():
        (folder / ".ready").write_text("")
    return folders


def video_folder(count: int, minutes: float) -> Path:
    import av

    folder = CACHE / f"videos-1080p-{count}x{minutes}min"
    if (folder / ".ready").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(9)
    fps, seconds = 30, int(minutes * 60)
    for v in range(count):
        with av.open(str(folder / f"clip{v}.mp4"), "w") as container:
            stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "g": str(2 * fps)})
            stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
            for s in range(0, seconds, 10):
                pixels = np.asarray(scene(rng, (1920, 1080)))
                for f in range(10 * fps):
                    moving = np.roll(pixels, f * 4, axis=1)  # a slow pan: every frame differs
                    for packet in stream.encode(av.VideoFrame.from_ndarray(moving, format="rgb24")):
                        container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    (folder / ".ready").write_text("")
    return folder


def index_once(base: Path, folder: Path) -> tuple[float, int, dict]:
    with tempfile.TemporaryDirectory(prefix="latent-bench-") as scratch:
        home = Path(scratch) / "home"
        shutil.copytree(base, home, symlinks=True)
        wall, rss, out = cli(home, "index", str(folder), "--json")
    return wall, rss, json.loads(out)


def decoding_alone(folder: Path) -> float:
    """Seconds to decode every file of a folder as the indexer does (one thread)."""
    from latentstudio.library.decode import decode_image
    from latentstudio.library.video_decode import sample_moments

    start = time.perf_counter()
    for path in sorted(folder.iterdir()):
        if path.suffix == ".mp4":
            for _ in sample_moments(path, 256):
                pass
        elif path.suffix in (".dng", ".jpg"):
            decode_image(path, min_side=256)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raws", type=int, default=24)
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:  # in a child: this process stays small
        folders = {k: str(v) for k, v in raw_folders(args.raws).items()}
        folders["video"] = str(video_folder(args.videos, args.minutes))
        print(json.dumps({"home": str(base_home(model_folder())), **folders}))
        return 0
    print(f"load before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    prepared = json.loads(run([sys.executable, __file__, "--prepare", "--raws", str(args.raws), "--videos",
                               str(args.videos), "--minutes", str(args.minutes)])[2].strip().splitlines()[-1])
    base = Path(prepared.pop("home"))
    cases = {name: Path(path) for name, path in prepared.items()}
    for folder in cases.values():  # warm the OS file cache for every case alike
        index_once(base, folder)
    samples: dict[str, list[tuple[float, int, dict]]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, folder in cases.items():
            samples[name].append(index_once(base, folder))
    for name, runs in samples.items():
        wall = statistics.median(w for w, _, _ in runs)
        loop = statistics.median(s["seconds"] for _, _, s in runs)
        summary = runs[0][2]
        decode = decoding_alone(cases[name])
        rss = max(r for _, r, _ in runs) / 2**20
        if name == "video":
            seconds = summary["video_seconds"]
            print(f"{name:>9}: {summary['videos']} videos, {seconds:.0f} s of video, {summary['moments']} moments "
                  f"({summary['moments'] / (seconds / 60):.1f} per minute); whole process median {wall:.2f} s "
                  f"({', '.join(f'{w:.2f}' for w, _, _ in runs)}), indexing loop {loop:.2f} s = "
                  f"{seconds / loop:.1f} s of video per second; decoding alone {decode:.2f} s "
                  f"({decode / loop:.0%} of the loop); peak RSS {rss:.0f} MiB")
        else:
            files = summary["indexed"]
            print(f"{name:>9}: {files} files; whole process median {wall:.2f} s "
                  f"({', '.join(f'{w:.2f}' for w, _, _ in runs)}), indexing loop {loop:.2f} s = "
                  f"{files / loop:.2f} files/s; decoding alone (one thread) {decode:.2f} s = "
                  f"{decode / files * 1000:.0f} ms per file; peak RSS {rss:.0f} MiB")
    print(f"load after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
