"""Time to the first streamed code token when a code request arrives during a 40-step image.

    python tests/benchmarks/fair_turns.py [--rounds N]

Tiny models (tests' `diffusion-tiny` at 64x64, `llm-tiny`), CPU float32, one process, one engine.
Each round starts a 40-step image generation, waits for its 3rd step, then submits a code
generation and measures submit → first PARTIAL event, alongside the image's median step time and
the code model's own first-token time when it runs alone (loaded, idle engine).

Before/after in the same run: "turns" submits the code job as it is (kind "codegen": it takes a
turn at the image's next step); "no turns" submits the same code job with the image's kind, which
the engine never interleaves with a running job of that kind: that is how every job of one
priority ran before turns existed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "desktop"))

from latentstudio.codegen.generation import CodeRequest  # noqa: E402
from latentstudio.codegen.generation import run_generation  # noqa: E402
from latentstudio.context import AppContext  # noqa: E402
from latentstudio.engine import DeviceInfo, EventKind, Priority  # noqa: E402
from latentstudio.imagegen import ImageRequest, submit_images  # noqa: E402
from latentstudio.imagegen.generate import JOB_KIND  # noqa: E402
from latentstudio.paths import Paths  # noqa: E402
from tests.support.model_store import tiny_model  # noqa: E402


def code_job(ctx: AppContext, kind: str) -> tuple[float, float]:
    """Submit the code generation; returns (submit time, first-token time)."""
    installed = ctx.registry.resolve("llm", None)
    first = threading.Event()
    stamps: dict[str, float] = {}

    def on_event(event) -> None:
        if event.kind is EventKind.PARTIAL and not first.is_set():
            stamps["first"] = time.perf_counter()
            first.set()

    request = CodeRequest("add two numbers", temperature=0.0, max_new_tokens=16)
    stamps["submit"] = time.perf_counter()
    handle = ctx.engine.submit(lambda job: run_generation(job, request, installed), Priority.FOREGROUND,
                               name="code", kind=kind, on_event=on_event,
                               memory_bytes=installed.size_bytes)
    handle.result(600)
    return stamps["submit"], stamps["first"]


def one_round(ctx: AppContext, kind: str) -> tuple[float, float]:
    """(ms from submit to first token, median image step ms) with an image rendering."""
    steps: list[float] = []
    third = threading.Event()

    def on_image(event) -> None:
        if event.kind is EventKind.PROGRESS and event.payload.total:
            steps.append(time.perf_counter())
            if len(steps) == 3:
                third.set()

    [image] = submit_images(ctx, ImageRequest("a red circle", steps=40, width=64, height=64, seed=1),
                                on_event=on_image)
    assert third.wait(300)
    submitted, first = code_job(ctx, kind)
    image.result(600)
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    return (first - submitted) * 1000, statistics.median(gaps) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        ctx = AppContext(Paths(Path(home)), device=DeviceInfo.cpu("benchmark"))
        ctx.registry.import_path(tiny_model("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny",
                                 link=True)
        ctx.registry.import_path(tiny_model("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
        # Warm both models, then the code model's own first-token time on an idle engine.
        submit_images(ctx, ImageRequest("warm", steps=2, width=64, height=64, seed=1))[0].result(600)
        alone = []
        for _ in range(args.rounds):
            submitted, first = code_job(ctx, "codegen")
            alone.append((first - submitted) * 1000)
        results: dict[str, list[tuple[float, float]]] = {"turns": [], "no turns": []}
        for _ in range(args.rounds):  # alternate, so load changes hit both alike
            results["turns"].append(one_round(ctx, "codegen"))
            results["no turns"].append(one_round(ctx, JOB_KIND))
        ctx.close()
    summary = {
        "load": os.getloadavg()[0],
        "first_token_alone_ms": statistics.median(alone),
        **{
            name: {
                "first_token_ms": statistics.median(r[0] for r in rounds),
                "image_step_ms": statistics.median(r[1] for r in rounds),
            }
            for name, rounds in results.items()
        },
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
