"""LoRAs on an SD-1.5-sized pipeline: switching cost against a base load, memory over switches, and
generation time with 0, 1 and 3 LoRAs active.

    python tests/benchmarks/lora.py [--rounds N] [--size 256] [--steps 3] [--rank 16] [--threads 1]

The pipeline is SD-1.5's architecture (the bundled sd1 configs) with random weights, saved once as a
diffusers folder (float16 on disk) in a temporary folder and installed like a user's model; the
LoRAs are kohya-layout files of the given rank over every attention projection of the UNet and
text encoder (as sd-scripts trains them: 176 modules, 8.4 MiB at rank 16 in float16).
Everything runs through our own code on the engine thread: `load_pipeline` (a base load, as the
model cache does it), `apply_loras` (what each generation calls), `submit_images` (a whole job).

Figures:
- base load: `load_pipeline` of the installed folder, seconds (median); the folder was just
  written, so it is read from the page cache: the best case for a base load, the worst for the ratio;
- first load of a LoRA: `apply_loras` with a LoRA not yet resident;
- switch: `apply_loras` from one resident LoRA to another (and to none), median of 20, and as a
  share of a base load;
- memory: process RSS after each of 20 switches (growth from the first to the last);
- generation: per-step time (intervals between step ends) with 0, 1 and 3 LoRAs, alternating
  within each round; ratio of medians per round against 0 LoRAs.
"""

from __future__ import annotations

import argparse
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
from latentstudio.imagegen.adapters import ChosenLora, apply_loras  # noqa: E402
from latentstudio.imagegen.loading import load_pipeline  # noqa: E402
from latentstudio.imagegen.prompt_syntax import LoraTag  # noqa: E402
from latentstudio.paths import Paths  # noqa: E402
from tests.benchmarks.imagegen import sd15_random_pipeline  # noqa: E402
from tests.support.tiny_addons import TE_TARGETS, UNET_TARGETS, _linears  # noqa: E402

PROMPT = "a lighthouse on a cliff at sunset"
SWITCHES = 20


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        import os

        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def write_lora(pipe: Any, path: Path, seed: int, rank: int) -> int:
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for prefix, model, targets in (("lora_unet", pipe.unet, UNET_TARGETS), ("lora_te", pipe.text_encoder, TE_TARGETS)):
        for name, module in _linears(model, targets):
            key = f"{prefix}_{name.replace('.', '_')}"
            tensors[f"{key}.lora_down.weight"] = (torch.randn(rank, module.in_features, generator=generator) * 0.01).half()
            tensors[f"{key}.lora_up.weight"] = (torch.randn(module.out_features, rank, generator=generator) * 0.01).half()
            tensors[f"{key}.alpha"] = torch.tensor(float(rank)).half()
    save_file(tensors, str(path), metadata={"ss_base_model_version": "sd_v1"})
    return len(tensors) // 3


def on_engine(ctx: AppContext, fn: Any) -> Any:
    return ctx.engine.submit(lambda job: fn(job), name="bench").result(3600)


def step_times(ctx: AppContext, prompt: str, steps: int, size: int, seed: int) -> list[float]:
    stamps: list[float] = []

    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PROGRESS and event.payload.total:
            stamps.append(time.perf_counter())

    request = ImageRequest(prompt, seed=seed, steps=steps, width=size, height=size, scheduler="Euler")
    submit_images(ctx, request, on_event=on_event)[0].result(3600)
    return [b - a for a, b in zip(stamps, stamps[1:])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--loads", type=int, default=2, help="base loads timed")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    device = DeviceInfo.cpu("benchmark on the CPU")
    with tempfile.TemporaryDirectory(prefix="lora-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        pipe = sd15_random_pipeline(device)
        pipe.save_pretrained(root / "sd15-random", safe_serialization=True, variant=None)
        for index in range(3):
            modules = write_lora(pipe, root / f"style-{index}.safetensors", index, args.rank)
        del pipe
        sizes = [p.stat().st_size for p in root.glob("style-*.safetensors")]
        print(f"built in {time.perf_counter() - started:.0f} s: SD-1.5-architecture pipeline; 3 LoRAs of rank "
              f"{args.rank} over {modules} modules, {statistics.mean(sizes) / 2**20:.1f} MiB each")

        ctx = AppContext(Paths(root / "home"), device=device)
        try:
            model = ctx.registry.import_path(root / "sd15-random", kind="diffusion", model_id="sd15", link=True)
            loras = [ctx.registry.import_path(root / f"style-{i}.safetensors", kind="lora") for i in range(3)]
            chosen = [ChosenLora(m, LoraTag(m.id, 0.8, 0.8)) for m in loras]

            loads = []
            for _ in range(args.loads):
                began = time.perf_counter()
                loaded = on_engine(ctx, lambda job: load_pipeline(model, device))
                loads.append(time.perf_counter() - began)
            base = statistics.median(loads)
            print(f"base load (load_pipeline): {', '.join(f'{s:.2f}' for s in loads)} s; median {base:.2f} s")

            def timed(fn: Any) -> float:
                def job(_: Any) -> float:
                    began = time.perf_counter()
                    fn()
                    return time.perf_counter() - began
                return on_engine(ctx, job)

            first = [timed(lambda c=c: apply_loras(loaded, [c])) for c in chosen[:2]]
            print(f"first load of a LoRA (apply_loras, not yet resident): {', '.join(f'{s:.3f}' for s in first)} s")
            switches, memory = [], []
            for index in range(SWITCHES):
                target = [chosen[index % 2]]
                switches.append(timed(lambda t=target: apply_loras(loaded, t)))
                memory.append(rss_bytes())
            off = [timed(lambda: apply_loras(loaded, [])) for _ in range(5)]
            switch = statistics.median(switches)
            print(f"switch between two resident LoRAs: median {switch * 1000:.1f} ms "
                  f"(max {max(switches) * 1000:.1f} ms) = {switch / base * 100:.2f}% of a base load")
            print(f"switch all LoRAs off: median {statistics.median(off) * 1000:.1f} ms")
            print(f"RSS over {SWITCHES} switches: first {memory[0] / 2**20:.0f} MiB, last {memory[-1] / 2**20:.0f} MiB, "
                  f"growth {(memory[-1] - memory[0]) / 2**20:+.1f} MiB (max {max(memory) / 2**20:.0f} MiB)")
            del loaded

            # Whole jobs through the model cache (which loads its own copy once).
            prompts = {
                0: PROMPT,
                1: f"{PROMPT} <lora:{loras[0].id}:0.8>",
                3: f"{PROMPT} " + " ".join(f"<lora:{m.id}:0.8>" for m in loras),
            }
            for count, prompt in prompts.items():
                step_times(ctx, prompt, 2, args.size, seed=0)  # warm-up: loads the pipeline and the LoRAs
            per_step: dict[int, list[float]] = {k: [] for k in prompts}
            ratios: dict[int, list[float]] = {1: [], 3: []}
            for round_index in range(args.rounds):
                order = list(prompts) if round_index % 2 == 0 else list(reversed(prompts))
                medians = {}
                for count in order:
                    steps = step_times(ctx, prompts[count], args.steps, args.size, seed=round_index)
                    per_step[count] += steps
                    medians[count] = statistics.median(steps)
                for count in (1, 3):
                    ratios[count].append(medians[count] / medians[0])
            print(f"generation {args.size}x{args.size}, {args.steps} steps, {args.rounds} rounds (per-step medians):")
            for count in prompts:
                line = f"  {count} LoRA{'s' if count != 1 else ''}: {statistics.median(per_step[count]) * 1000:.0f} ms/step"
                if count:
                    per_lora = (statistics.median(ratios[count]) - 1) / count * 100
                    line += (f"; per-round ratios to none {', '.join(f'{r:.3f}' for r in ratios[count])}; "
                             f"median {statistics.median(ratios[count]):.3f} = {per_lora:+.1f}% per LoRA")
                print(line)
        finally:
            ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
