"""Our inpainting job against diffusers' inpainting pipeline called directly, on the same inputs and seed.

    python tests/benchmarks/inpainting.py [--rounds N] [--size PIXELS] [--steps N] [--threads N]

A small SD-1.x-shaped pipeline with random weights (UNet 64/128/256 channels, written as a diffusers
folder and imported as a model), CPU, float32. Both sides run on the engine thread, on the same
loaded components, alternating (and who goes first alternates too):
- ours: `submit_images` with an init image and a mask: reading both, feathering the mask, the
  pipeline made by from_pipe, pasting the original back, the PNG with both metadata chunks, the
  library hand-off; timed from the job's STARTED event to its FINISHED event;
- direct: reading the same two files, `AutoPipelineForInpainting.from_pipe(pipe)(prompt, image,
  mask_image, …)` with the same scheduler, seed and settings, saving a plain PNG.
Each round gives one ratio (ours / direct) of wall time and of the engine thread's CPU time; the
overhead is the ratio of medians over all rounds, with the spread of the per-round ratios.
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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from latentstudio.context import AppContext  # noqa: E402
from latentstudio.engine import DeviceInfo, EventKind, JobEvent  # noqa: E402
from latentstudio.imagegen import ImageRequest, submit_images  # noqa: E402
from latentstudio.imagegen.loading import pipeline_key  # noqa: E402
from latentstudio.imagegen.schedulers import make_scheduler  # noqa: E402
from latentstudio.paths import Paths  # noqa: E402
from tests.support.tiny_diffusion import TEXT_CONFIG  # noqa: E402

PROMPT = "a lighthouse on a cliff at sunset"
NEGATIVE = "blurry"
SCHEDULER = "Euler"
GUIDANCE = 7.0
STRENGTH = 1.0  # every step runs: the timed work is the same on both sides

Stamp = tuple[float, float]  # (wall clock, CPU time of the engine thread)


def stamp() -> Stamp:
    return time.perf_counter(), time.thread_time()


def write_small_model(folder: Path) -> None:
    """A small SD-1.x-shaped diffusers folder, random but seeded weights."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from latentstudio.imagegen.clip_tokenizer import build_clip_tokenizer

    torch.manual_seed(0)
    pipe = StableDiffusionPipeline(
        vae=AutoencoderKL(block_out_channels=(32, 64, 64, 64), layers_per_block=1, latent_channels=4,
                          down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                          norm_num_groups=32),
        text_encoder=CLIPTextModel(CLIPTextConfig(**{**TEXT_CONFIG, "hidden_size": 64, "intermediate_size": 128})),
        tokenizer=build_clip_tokenizer(),
        unet=UNet2DConditionModel(
            sample_size=32, block_out_channels=(64, 128, 256), layers_per_block=1, cross_attention_dim=64,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), attention_head_dim=8,
        ),
        scheduler=EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                         steps_offset=1),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)


def write_inputs(folder: Path, size: int) -> tuple[Path, Path]:
    import numpy as np
    from PIL import Image

    init, mask = folder / "init.png", folder / "mask.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(init)
    painted = np.zeros((size, size), dtype=np.uint8)
    painted[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 255
    Image.fromarray(painted).save(mask)
    return init, mask


def ours(ctx: AppContext, init: Path, mask: Path, steps: int, seed: int) -> Stamp:
    stamps: dict[EventKind, Stamp] = {}

    def on_event(event: JobEvent) -> None:  # STARTED and FINISHED are sent on the engine thread
        if event.kind in (EventKind.STARTED, EventKind.FINISHED):
            stamps[event.kind] = stamp()

    request = ImageRequest(PROMPT, NEGATIVE, seed=seed, steps=steps, guidance=GUIDANCE, scheduler=SCHEDULER,
                           init_image=init, mask=mask, strength=STRENGTH, model_id="small")
    submit_images(ctx, request, on_event=on_event)[0].result()
    start, end = stamps[EventKind.STARTED], stamps[EventKind.FINISHED]
    return end[0] - start[0], end[1] - start[1]


def direct(ctx: AppContext, pipe: Any, base_config: dict[str, Any], init: Path, mask: Path, steps: int, seed: int,
           out: Path) -> Stamp:
    def run(job: Any) -> Stamp:
        import torch
        from diffusers import AutoPipelineForInpainting
        from PIL import Image

        start = stamp()
        image, mask_image = Image.open(init).convert("RGB"), Image.open(mask).convert("L")
        inpaint = AutoPipelineForInpainting.from_pipe(pipe, scheduler=make_scheduler(SCHEDULER, base_config, steps))
        inpaint.set_progress_bar_config(disable=True)
        with torch.inference_mode():
            result = inpaint(PROMPT, image=image, mask_image=mask_image, negative_prompt=NEGATIVE,
                             num_inference_steps=steps, guidance_scale=GUIDANCE, strength=STRENGTH,
                             width=image.width, height=image.height,
                             generator=torch.Generator("cpu").manual_seed(seed)).images[0]
        result.save(out / f"direct-{seed}.png")
        end = stamp()
        return end[0] - start[0], end[1] - start[1]

    return ctx.engine.submit(run, name="direct").result()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--size", type=int, default=256, help="init image side, pixels")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's choice)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="latent-bench-inpaint-"))
    write_small_model(work / "small")
    init, mask = write_inputs(work, args.size)
    ctx = AppContext(Paths(work / "home"), device=DeviceInfo.cpu("benchmark on the CPU"))
    try:
        ctx.registry.import_path(work / "small", kind="diffusion", model_id="small", link=True)
        ours(ctx, init, mask, args.steps, seed=0)  # loads the pipeline into the cache, and warms up
        model = ctx.registry.get("small")
        with ctx.engine.models.use(pipeline_key(model), lambda: None) as loaded:
            pipe, base_config = loaded.pipe, loaded.base_scheduler_config
        direct(ctx, pipe, base_config, init, mask, args.steps, 0, work)  # warm-up
        print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU float32; "
              f"{args.size}x{args.size} init image, {args.steps} steps, strength {STRENGTH:g}, "
              f"UNet {sum(p.numel() for p in pipe.unet.parameters()) / 1e6:.1f}M parameters")
        load_before = os.getloadavg()
        runs: dict[str, list[Stamp]] = {"ours": [], "direct": []}
        for index in range(args.rounds):
            seed = 100 + index
            for side in (("direct", "ours") if index % 2 else ("ours", "direct")):
                if side == "ours":
                    runs["ours"].append(ours(ctx, init, mask, args.steps, seed))
                else:
                    runs["direct"].append(direct(ctx, pipe, base_config, init, mask, args.steps, seed, work))
        load_after = os.getloadavg()
        print(f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
              f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}; {os.cpu_count()} CPUs")
        for column, label in ((0, "wall"), (1, "engine-thread CPU")):
            mine = [run[column] for run in runs["ours"]]
            theirs = [run[column] for run in runs["direct"]]
            ratios = sorted(a / b for a, b in zip(mine, theirs))
            overhead = statistics.median(mine) / statistics.median(theirs) - 1
            print(f"  {label}: ours {statistics.median(mine) * 1000:.0f} ms, direct "
                  f"{statistics.median(theirs) * 1000:.0f} ms (medians of {args.rounds}); ratio of medians − 1: "
                  f"{overhead * 100:+.1f}%; per-round ratios {ratios[0]:.3f}–{ratios[-1]:.3f}")
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
