"""Upscaling: megapixels per second of our tiled job against spandrel called directly, and the
peak memory of a 4000x3000 picture upscaled 4x in tiles.

    python tests/benchmarks/upscale_throughput.py [--rounds 3] [--size 1024x768] [--threads 1]
        [--tile N] [--big 4000x3000] [--no-big]

Models are real spandrel architectures with random weights, written as .safetensors and installed
like a user's upscaler:
- throughput: Real-ESRGAN Compact in the configuration of realesr-animevideov3 (64 features,
  16 body convolutions, 4x; 0.6M parameters);
- peak memory: a narrower Compact (16 features, 4 convolutions, 4x), so the 12-megapixel picture
  takes seconds, not an hour, on two cores. What the tiles hold in memory does not depend on the
  model's width beyond one tile's activations.

Throughput: each round runs both sides on the engine thread, alternating which goes first:
- direct: the spandrel descriptor (loaded once, outside the timing) on the whole picture, with the
  uint8 -> float tensor -> uint8 conversions a caller of spandrel needs;
- ours: a whole `submit_upscales` job with its defaults (tiles, overlap, a preview and a checkpoint
  per tile; `--tile` sets the tile size); timed is its own `seconds` (the tiled passes; the cached model, reading the source and
  writing the PNG are outside it), and the job's wall time end to end is printed too.
Figure: input megapixels per second; per round the ratio ours / direct; the median of the ratios.

Peak memory: a fresh process upscales the big picture (a smooth gradient with noise, PNG) by 4x
through `submit_upscales` and reports its peak RSS (VmHWM) before and after the job; a second
fresh process runs spandrel directly on the whole picture for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for entry in (str(ROOT), str(ROOT / "desktop")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import numpy as np  # noqa: E402

THROUGHPUT_MODEL = {"num_feat": 64, "num_conv": 16, "upscale": 4}  # realesr-animevideov3's configuration
MEMORY_MODEL = {"num_feat": 16, "num_conv": 4, "upscale": 4}


def write_model(path: Path, config: dict[str, int]) -> Path:
    import torch
    from safetensors.torch import save_file
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(0)
    model = Compact(num_in_ch=3, num_out_ch=3, **config)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def write_picture(path: Path, width: int, height: int) -> Path:
    from PIL import Image

    rng = np.random.default_rng(1)
    y, x = np.ogrid[0:height, 0:width]
    base = np.zeros((height, width, 3), dtype=np.float32)
    base[..., 0] = x * 255 / width
    base[..., 1] = y * 255 / height
    base[..., 2] = 128
    base += rng.normal(0, 12, base.shape).astype(np.float32)
    Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(path)
    return path


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def context(home: Path) -> Any:
    from latentstudio.context import AppContext
    from latentstudio.engine import DeviceInfo
    from latentstudio.paths import Paths

    return AppContext(Paths(home).ensure(), device=DeviceInfo.cpu("benchmark on the CPU"))


def direct_seconds(ctx: Any, descriptor: Any, image: np.ndarray) -> float:
    """spandrel on the whole picture, on the engine thread."""
    import torch

    def run(job: Any) -> float:
        started = time.perf_counter()
        tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float().div_(255)
        output = descriptor(tensor)
        output[0].mul(255).round_().byte().permute(1, 2, 0).numpy()
        return time.perf_counter() - started

    return ctx.engine.submit(run, name="direct").result(3600)


def throughput(args: argparse.Namespace, scratch: Path) -> None:
    import torch
    from PIL import Image

    from latentstudio.imagegen.service import submit_upscales
    from latentstudio.imagegen.upscale import UpscaleRequest, default_tile
    from latentstudio.models.upscalers import load_upscaler

    torch.set_num_threads(args.threads)
    width, height = (int(n) for n in args.size.lower().split("x"))
    ctx = context(scratch / "home")
    try:
        model_file = write_model(scratch / "compact-x4.safetensors", THROUGHPUT_MODEL)
        ctx.registry.import_path(model_file, model_id="compact-x4")
        source = write_picture(scratch / "source.png", width, height)
        image = np.array(Image.open(source).convert("RGB"))
        descriptor = load_upscaler(model_file)
        megapixels = width * height / 1e6
        print(f"throughput: Compact {THROUGHPUT_MODEL}, {width}x{height} ({megapixels:.2f} MP) -> 4x, "
              f"{args.threads} torch thread(s), our tile {args.tile or default_tile('cpu')} px")
        request = UpscaleRequest(source, tile=args.tile)
        submit_upscales(ctx, [request])[0].result(3600)  # warm-up: loads and caches the model
        direct_seconds(ctx, descriptor, image)  # warm-up: the allocator's first large blocks
        ratios = []
        for index in range(args.rounds):
            sides: dict[str, float] = {}
            for side in (("direct", "ours") if index % 2 == 0 else ("ours", "direct")):
                if side == "direct":
                    sides[side] = direct_seconds(ctx, descriptor, image)
                else:
                    started = time.perf_counter()
                    result = submit_upscales(ctx, [request])[0].result(3600)
                    sides["ours_wall"] = time.perf_counter() - started
                    sides[side] = result.seconds
                    sides["tile"] = result.tile
            ratio = sides["direct"] / sides["ours"]
            ratios.append(ratio)
            print(f"  round {index + 1}: direct {megapixels / sides['direct']:.4f} MP/s ({sides['direct']:.2f} s), "
                  f"ours {megapixels / sides['ours']:.4f} MP/s ({sides['ours']:.2f} s; job end to end "
                  f"{sides['ours_wall']:.2f} s), ratio {ratio:.3f}", flush=True)
        print(f"  median ratio ours/direct {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})")
    finally:
        ctx.close()


def memory_child(mode: str, scratch: Path, width: int, height: int, threads: int) -> dict[str, Any]:
    """Run in a fresh process: one 4x upscale of the big picture, ours or direct; its peak RSS."""
    import torch
    from PIL import Image

    torch.set_num_threads(threads)
    source = scratch / "big.png"
    model_file = scratch / "compact-small-x4.safetensors"
    from latentstudio.models.upscalers import load_upscaler

    if mode == "direct":
        descriptor = load_upscaler(model_file)
        image = np.array(Image.open(source).convert("RGB"))
        before = peak_rss_bytes()
        started = time.perf_counter()
        output = descriptor(torch.from_numpy(image).permute(2, 0, 1)[None].float().div_(255))
        result = output[0].mul(255).round_().byte().permute(1, 2, 0).numpy()
        seconds = time.perf_counter() - started
        return {"mode": mode, "peak_before": before, "peak_after": peak_rss_bytes(), "seconds": seconds,
                "size": [result.shape[1], result.shape[0]]}
    from latentstudio.imagegen.service import submit_upscales
    from latentstudio.imagegen.upscale import UpscaleRequest

    ctx = context(scratch / f"home-{os.getpid()}")
    try:
        ctx.registry.import_path(model_file, model_id="compact-small-x4")
        ctx.engine.submit(lambda job: None, name="start").result(600)  # the engine thread and device, before
        before = peak_rss_bytes()
        started = time.perf_counter()
        result = submit_upscales(ctx, [UpscaleRequest(source)])[0].result(3600)
        wall = time.perf_counter() - started
        return {"mode": mode, "peak_before": before, "peak_after": peak_rss_bytes(), "seconds": result.seconds,
                "wall": wall, "tile": result.tile, "size": [result.width, result.height],
                "png_bytes": result.path.stat().st_size}
    finally:
        ctx.close()


def memory(args: argparse.Namespace, scratch: Path) -> None:
    width, height = (int(n) for n in args.big.lower().split("x"))
    write_model(scratch / "compact-small-x4.safetensors", MEMORY_MODEL)
    write_picture(scratch / "big.png", width, height)
    print(f"peak memory: Compact {MEMORY_MODEL}, {width}x{height} -> 4x ({width * 4}x{height * 4}), "
          f"{args.threads} torch thread(s), each side in a fresh process")
    for mode in ("ours", "direct"):
        command = [sys.executable, __file__, "--child", mode, "--scratch", str(scratch), "--big", args.big,
                   "--threads", str(args.threads)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"  {mode}: failed ({done.returncode}): {done.stderr.strip()[-600:]}")
            continue
        report = json.loads(done.stdout.strip().splitlines()[-1])
        mib = 2**20
        extra = (f", tile {report['tile']} px, job end to end {report['wall']:.1f} s (PNG {report['png_bytes'] / mib:.0f} MiB)"
                 if mode == "ours" else "")
        print(f"  {mode}: peak RSS {report['peak_before'] / mib:.0f} MiB before, {report['peak_after'] / mib:.0f} MiB "
              f"after (+{(report['peak_after'] - report['peak_before']) / mib:.0f}); upscale {report['seconds']:.1f} s"
              f"{extra}; result {report['size'][0]}x{report['size'][1]}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", default="1024x768", help="throughput picture, WxH")
    parser.add_argument("--big", default="4000x3000", help="peak-memory picture, WxH")
    parser.add_argument("--no-big", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tile", type=int, default=None, help="our tile size (default: the CPU's default)")
    parser.add_argument("--child", choices=("ours", "direct"), help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        width, height = (int(n) for n in args.big.lower().split("x"))
        print(json.dumps(memory_child(args.child, args.scratch, width, height, args.threads)))
        return 0
    with open("/proc/loadavg") as fh:
        print(f"load average before: {fh.read().split()[0]}")
    with tempfile.TemporaryDirectory(prefix="upscale-bench-") as scratch:
        throughput(args, Path(scratch))
        if not args.no_big:
            memory(args, Path(scratch))
    with open("/proc/loadavg") as fh:
        print(f"load average after: {fh.read().split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
