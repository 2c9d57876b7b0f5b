"""Per-step time of our generation job against the same diffusers pipeline called directly.

    python tests/benchmarks/imagegen.py [--rounds N] [--sd15-rounds N] [--skip-sd15] [--device cuda]

Both run in the same process, on the engine thread, on the same pipeline object, alternating,
on the CPU (float32)
or, with --device cuda, on the GPU (float16):
- the tiny pipeline (tests' `diffusion-tiny`, 64x64), 10 steps a run;
- an SD-1.5-architecture pipeline (the bundled sd1 configs, random weights) at 512x512, 2 steps a run.

A step's time is the interval between consecutive step ends: for our job the PROGRESS events
(sent from inside our step callback, after the preview and the engine checkpoint run), for the
direct call a callback that only records the time. Our overhead = our median / direct median - 1.
"""

from __future__ import annotations

import argparse
import json
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
from latentstudio.imagegen.loading import LoadedPipeline, bundled_config, pipeline_key  # noqa: E402
from latentstudio.imagegen.schedulers import make_scheduler  # noqa: E402
from latentstudio.paths import Paths  # noqa: E402
from tests.support.model_store import tiny_model  # noqa: E402

PROMPT = "a lighthouse on a cliff at sunset"
NEGATIVE = "blurry"
SCHEDULER = "Euler"


Stamp = tuple[float, float]  # (wall clock, CPU time of the calling thread)


def stamp() -> Stamp:
    return time.perf_counter(), time.thread_time()


def intervals(stamps: list[Stamp]) -> list[Stamp]:
    """Per-step (wall, thread CPU) seconds between consecutive step ends."""
    return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps, stamps[1:])]


def ours(ctx: AppContext, model_id: str, steps: int, size: int, seed: int) -> list[Stamp]:
    stamps: list[Stamp] = []

    def on_event(event: JobEvent) -> None:  # called on the engine thread, inside our step callback
        if event.kind is EventKind.PROGRESS and event.payload.total:
            stamps.append(stamp())

    request = ImageRequest(PROMPT, NEGATIVE, seed=seed, steps=steps, guidance=7.0, width=size, height=size,
                                scheduler=SCHEDULER, model_id=model_id)
    submit_images(ctx, request, on_event=on_event)[0].result()
    return intervals(stamps)


def direct(ctx: AppContext, pipe: Any, base_config: dict, steps: int, size: int, seed: int) -> list[Stamp]:
    """The pipeline called directly, on the same (engine) thread our jobs run on."""
    return ctx.engine.submit(lambda job: call_pipeline(pipe, base_config, steps, size, seed), name="direct").result()


def call_pipeline(pipe: Any, base_config: dict, steps: int, size: int, seed: int) -> list[Stamp]:
    import torch

    stamps: list[Stamp] = []

    def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict) -> dict:
        stamps.append(stamp())
        return tensors

    pipe.scheduler = make_scheduler(SCHEDULER, base_config, steps)
    with torch.inference_mode():
        pipe(PROMPT, negative_prompt=NEGATIVE, num_inference_steps=steps, guidance_scale=7.0, width=size,
             height=size, generator=torch.Generator("cpu").manual_seed(seed), callback_on_step_end=on_step_end,
             output_type="pil")
    return intervals(stamps)


def sd15_random_pipeline(device: DeviceInfo) -> Any:
    import torch
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from latentstudio.imagegen.clip_tokenizer import build_clip_tokenizer

    config = bundled_config("sd1")
    torch.manual_seed(0)
    scheduler_config = json.loads((config / "scheduler" / "scheduler_config.json").read_text())
    pipe = StableDiffusionPipeline(
        vae=AutoencoderKL.from_config(AutoencoderKL.load_config(config / "vae")),
        text_encoder=CLIPTextModel(CLIPTextConfig.from_pretrained(config / "text_encoder")),
        tokenizer=build_clip_tokenizer(),
        unet=UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(config / "unet")),
        scheduler=make_scheduler("PLMS", scheduler_config),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device.torch_device, device.torch_dtype) if device.is_gpu else pipe


def summarize(label: str, ours_steps: list[float], direct_steps: list[float], ratios: list[float]) -> float:
    ours_median, direct_median = statistics.median(ours_steps), statistics.median(direct_steps)
    print(f"  {label}, per step (median): ours {ours_median * 1000:.1f} ms, direct {direct_median * 1000:.1f} ms")
    if len(ours_steps) <= 12:
        print(f"    ours:   {', '.join(f'{s * 1000:.0f}' for s in ours_steps)} ms")
        print(f"    direct: {', '.join(f'{s * 1000:.0f}' for s in direct_steps)} ms")
    print(f"    per-round ratios ours/direct: {', '.join(f'{r:.3f}' for r in ratios)}")
    print(f"    our overhead (median of per-round ratios): {(statistics.median(ratios) - 1) * 100:+.1f}%")
    return direct_median


def measure(ctx: AppContext, model_id: str, loaded: LoadedPipeline, steps: int, size: int, rounds: int) -> None:
    """Alternate ours and direct (who goes first alternates too); compare within each round.

    Wall time suffers from other processes on a shared machine; the CPU time of the thread that
    runs the step (with one torch thread all of the step's work) does much less.
    """
    runs: dict[str, list[list[Stamp]]] = {"ours": [], "direct": []}
    ours(ctx, model_id, steps, size, seed=0)  # warm-up (and, for the tiny model, loading)
    direct(ctx, loaded.pipe, loaded.base_scheduler_config, steps, size, seed=0)
    for index in range(rounds):
        seed = 100 + index
        order = ("direct", "ours") if index % 2 else ("ours", "direct")
        for side in order:
            if side == "ours":
                runs["ours"].append(ours(ctx, model_id, steps, size, seed))
            else:
                runs["direct"].append(direct(ctx, loaded.pipe, loaded.base_scheduler_config, steps, size, seed))
    print(f"  steps timed: {sum(map(len, runs['ours']))} each side, in {rounds} rounds")
    direct_wall = 0.0
    for column, label in ((0, "wall time"), (1, "thread CPU time")):
        ours_steps = [step[column] for run in runs["ours"] for step in run]
        direct_steps = [step[column] for run in runs["direct"] for step in run]
        ratios = [
            statistics.median(s[column] for s in o) / statistics.median(s[column] for s in d)
            for o, d in zip(runs["ours"], runs["direct"])
        ]
        median = summarize(label, ours_steps, direct_steps, ratios)
        direct_wall = direct_wall or median
    latent = size // loaded.pipe.vae_scale_factor
    cost = callback_cost(ctx, latent)
    print(f"  our step callback alone ({latent}x{latent} latents): {cost * 1000:.3f} ms "
          f"= {cost / direct_wall * 100:.3f}% of a direct step")


def callback_cost(ctx: AppContext, latent_size: int, calls: int = 200) -> float:
    """Seconds our per-step callback takes (progress event, preview, engine checkpoint), on the engine thread."""
    import torch

    from latentstudio.imagegen.generate import step_callback

    class Pipe:
        num_timesteps = calls

    latents = torch.randn(1, 4, latent_size, latent_size)

    def job(context: Any) -> float:
        on_step_end = step_callback(context, "sd1", seed=0)
        started = time.perf_counter()
        for step in range(calls):
            on_step_end(Pipe(), step, 0, {"latents": latents})
        return (time.perf_counter() - started) / calls

    return ctx.engine.submit(job, name="callback cost").result()


def cached_pipeline(ctx: AppContext, model_id: str) -> LoadedPipeline:
    """The LoadedPipeline our jobs use, taken from the engine's model cache."""
    model = ctx.registry.get(model_id)
    with ctx.engine.models.use(pipeline_key(model), lambda: None) as loaded:
        assert loaded is not None, "the pipeline should be resident after the warm-up run"
        return loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6, help="runs of each kind for the tiny pipeline")
    parser.add_argument("--sd15-rounds", type=int, default=2)
    parser.add_argument("--sd15-steps", type=int, default=2)
    parser.add_argument("--skip-sd15", action="store_true")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from latentstudio.engine.device import detect_device

    device = DeviceInfo.cpu("benchmark on the CPU") if args.device == "cpu" else detect_device("cuda")
    if device.kind != args.device:
        parser.error(f"no {args.device} device: {device.fallback_reason}")
    home = Path(tempfile.mkdtemp(prefix="latent-bench-"))
    ctx = AppContext(Paths(home), device=device)
    try:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {device.describe()}")
        tiny = tiny_model("diffusion-tiny")
        ctx.registry.import_path(tiny / "diffusers", kind="diffusion", model_id="tiny", link=True)
        ours(ctx, "tiny", 1, 64, seed=0)  # loads the tiny pipeline into the cache
        print("tiny pipeline, 64x64, 10 steps a run:")
        measure(ctx, "tiny", cached_pipeline(ctx, "tiny"), steps=10, size=64, rounds=args.rounds)

        if not args.skip_sd15:
            # The registry entry stands for the model; the cache already holds its pipeline, so our
            # job runs on exactly the object the direct call uses.
            ctx.registry.import_path(tiny / "diffusers", kind="diffusion", model_id="sd15-random", link=True)
            started = time.perf_counter()
            sd15 = LoadedPipeline(sd15_random_pipeline(device), "sd15-random", "sd1")
            print(f"SD-1.5 architecture, random weights ({sd15.nbytes / 2**30:.2f} GiB {device.dtype_name}, "
                  f"built in {time.perf_counter() - started:.0f} s), 512x512, {args.sd15_steps} steps a run:")
            key = pipeline_key(ctx.registry.get("sd15-random"))

            def preload(job: Any) -> None:
                with job.models.use(key, lambda: sd15):
                    pass  # stays resident (unlocked) after the block

            ctx.engine.submit(preload, name="preload").result()
            measure(ctx, "sd15-random", sd15, steps=args.sd15_steps, size=512, rounds=args.sd15_rounds)
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
