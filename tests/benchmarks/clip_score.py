"""What the CLIP score adds to a generation: its share of the job's wall time.

    python tests/benchmarks/clip_score.py [--rounds N] [--steps N] [--size N]

An SD-1.5-architecture pipeline (bundled sd1 configs, random weights) and a ViT-B-32 CLIP
(random weights) are made resident in the engine's model cache, as after a first generation
and a first search; then our generation job runs `rounds` times on the CPU (float32). Each
result reports its sampling seconds and its scoring seconds; the share is scoring / (sampling +
scoring), per round, median reported. The first (cold) score, which loads nothing here because
the CLIP model was preloaded, is reported apart from the warm ones. Few steps make the share an
upper bound: a real generation runs 20-30 steps for the same single score.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for entry in (ROOT / "tests" / "benchmarks", ROOT, ROOT / "desktop"):  # this checkout, not an installed copy
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from imagegen import sd15_random_pipeline  # noqa: E402

from latentstudio.context import AppContext  # noqa: E402
from latentstudio.engine import DeviceInfo  # noqa: E402
from latentstudio.imagegen import ImageRequest, submit_images  # noqa: E402
from latentstudio.imagegen.loading import LoadedPipeline, pipeline_key  # noqa: E402
from latentstudio.models.clip_loader import cache_key, load_clip_random  # noqa: E402
from latentstudio.paths import Paths  # noqa: E402
from tests.support.model_store import tiny_model  # noqa: E402

PROMPT = "a lighthouse on a cliff at sunset, oil painting"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()

    import torch

    device = DeviceInfo.cpu("benchmark on the CPU")
    home = Path(tempfile.mkdtemp(prefix="latent-bench-"))
    ctx = AppContext(Paths(home), device=device)
    try:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; load {os.getloadavg()[0]:.2f}")
        # Registry entries stand for the models; the cache holds the benchmark's objects under their keys.
        ctx.registry.import_path(tiny_model("diffusion-tiny") / "diffusers", kind="diffusion", model_id="sd15",
                                 link=True)
        ctx.registry.import_path(tiny_model("clip-tiny"), kind="clip", model_id="vitb32", link=True)
        sd15 = LoadedPipeline(sd15_random_pipeline(device), "sd15", "sd1")
        clip = load_clip_random("ViT-B-32", device.torch_device, device.torch_dtype)

        def preload(job: Any) -> None:
            with job.models.use(pipeline_key(ctx.registry.get("sd15")), lambda: sd15):
                pass
            with job.models.use(cache_key("vitb32"), lambda: clip):
                pass

        ctx.engine.submit(preload, name="preload").result()
        print(f"SD-1.5 architecture {args.size}x{args.size}, {args.steps} steps; ViT-B-32 CLIP (random weights)")
        shares, scores, samplings = [], [], []
        for index in range(args.rounds + 1):
            request = ImageRequest(PROMPT, seed=index, steps=args.steps, width=args.size, height=args.size)
            started = time.perf_counter()
            result = submit_images(ctx, request)[0].result()
            wall = time.perf_counter() - started
            if result.library_job is not None:
                result.library_job.result()  # indexing is a BACKGROUND job of its own, not timed
            assert result.clip_score is not None
            label = "first" if index == 0 else f"round {index}"
            print(f"  {label}: job wall {wall:.2f} s, sampling {result.seconds:.2f} s, "
                  f"score {result.score_seconds * 1000:.1f} ms")
            if index:
                shares.append(result.score_seconds / (result.seconds + result.score_seconds))
                scores.append(result.score_seconds)
                samplings.append(result.seconds)
        print(f"  median: sampling {statistics.median(samplings):.2f} s, score "
              f"{statistics.median(scores) * 1000:.1f} ms, share {statistics.median(shares) * 100:.2f}% "
              f"of a {args.steps}-step generation")
        per_step = statistics.median(samplings) / args.steps
        print(f"  (one score ≈ {statistics.median(scores) / per_step * 100:.1f}% of one sampling step)")
        print(f"load after: {os.getloadavg()[0]:.2f}")
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
