"""Tokens per second of our streaming generation job against a direct `model.generate` call.

    python tests/benchmarks/codegen.py [--runs 3] [--tokens 128] [--skip-large] [--threads N]

Both sides run on the engine thread, on the very same resident model object, with the same
prompt ids, greedy, 128 new tokens, on the CPU (float32); runs alternate so load from other
processes hits both alike. Models: the tiny trained test LLM and a ~100M-parameter random
model of the same architecture (Qwen2), both saved without an end-of-sequence token so every
run produces exactly the requested number of tokens.

Ours: submit → result wall time (queue hand-off, chat template, tokenizing, streaming with an
incremental detokenizer, a PARTIAL event per token, checkpoints, code extraction, syntax check).
Direct: `model.generate(**inputs, max_new_tokens=N, do_sample=False)` and nothing else.
Target: ours ≥ 95% of direct tokens/s. Time to first token: ours (measured by the job) against
a direct `generate(max_new_tokens=1)` call.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from latentstudio.codegen import CodeRequest, get_language, submit_code  # noqa: E402
from latentstudio.codegen.loader import LanguageModel, cache_key, load_language_model  # noqa: E402
from latentstudio.codegen.prompts import build_messages, render_prompt  # noqa: E402
from latentstudio.engine import DeviceInfo, Engine, EventKind, JobContext  # noqa: E402
from latentstudio.models import InstalledModel, ModelRegistry  # noqa: E402
from tests.support.model_store import tiny_model  # noqa: E402
from tests.support.tiny_llm import tiny_qwen2_config  # noqa: E402

PROMPT = "Write a Python function that parses a CSV file into a list of dictionaries."


def without_eos(folder: Path) -> None:
    """Make a saved model run to max_new_tokens: no end-of-sequence token in its configs."""
    for name in ("config.json", "generation_config.json"):
        path = folder / name
        data = json.loads(path.read_text())
        data["eos_token_id"] = None
        path.write_text(json.dumps(data, indent=2))


def copy_tiny(target: Path) -> Path:
    shutil.copytree(tiny_model("llm-tiny"), target)
    without_eos(target)
    return target


def write_large(target: Path, tokenizer_source: Path) -> tuple[Path, int]:
    import torch
    from transformers import AutoTokenizer, Qwen2ForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, local_files_only=True)
    config = tiny_qwen2_config(
        tokenizer, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
        num_attention_heads=12, num_key_value_heads=4,
    )
    model = Qwen2ForCausalLM(config)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    without_eos(target)
    return target, params


def direct_job(installed: InstalledModel, new_tokens: int) -> Any:
    """A raw engine job: the resident model's generate(), nothing else, timed around the call."""

    def run(job: JobContext) -> tuple[int, float]:
        import torch

        loader = lambda: load_language_model(installed.path, job.device, installed.id)  # noqa: E731
        with job.models.use(cache_key(installed), loader) as lm:
            inputs = _inputs(lm)
            start = time.perf_counter()
            with torch.inference_mode():
                out = lm.model.generate(
                    **inputs, max_new_tokens=new_tokens, do_sample=False,
                    pad_token_id=lm.tokenizer.pad_token_id,
                )
            elapsed = time.perf_counter() - start
        return int(out.shape[1] - inputs["input_ids"].shape[1]), elapsed

    return run


def _inputs(lm: LanguageModel) -> Any:
    prompt = render_prompt(lm.tokenizer, build_messages(PROMPT, get_language("python")))
    return lm.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(lm.device)


def ours(engine: Engine, registry: ModelRegistry, model_id: str, new_tokens: int) -> tuple[int, float, Any]:
    pieces = []
    request = CodeRequest(PROMPT, temperature=0, max_new_tokens=new_tokens, model_id=model_id)
    start = time.perf_counter()
    handle = submit_code(
        engine, registry, request,
        on_event=lambda e: pieces.append(e.payload) if e.kind is EventKind.PARTIAL else None,
    )
    result = handle.result()
    elapsed = time.perf_counter() - start
    assert "".join(p.text for p in pieces) == result.text
    return result.n_tokens, elapsed, result


def bench(engine: Engine, registry: ModelRegistry, model_id: str, runs: int, new_tokens: int) -> dict[str, Any]:
    installed = registry.get(model_id)
    ours(engine, registry, model_id, new_tokens)  # load and warm up both paths
    engine.run_sync(direct_job(installed, new_tokens))
    ours_tps, direct_tps, ttft_ours, ttft_direct, decode_tps = [], [], [], [], []
    for run in range(runs):
        # Alternate which side goes first, so drifting load from other processes hits both alike.
        order = ("ours", "direct") if run % 2 == 0 else ("direct", "ours")
        for side in order:
            if side == "ours":
                n, elapsed, result = ours(engine, registry, model_id, new_tokens)
                ours_tps.append(n / elapsed)
                ttft_ours.append(result.ttft_ms)
                decode_tps.append(result.tokens_per_s)
            else:
                n_direct, elapsed_direct = engine.run_sync(direct_job(installed, new_tokens))
                direct_tps.append(n_direct / elapsed_direct)
        assert n_direct == n == new_tokens, (n_direct, n)
        _, first = engine.run_sync(direct_job(installed, 1))
        ttft_direct.append(first * 1000)
    return {
        "ours_tps": statistics.median(ours_tps),
        "direct_tps": statistics.median(direct_tps),
        "ratio": statistics.median(o / d for o, d in zip(ours_tps, direct_tps)),
        "best_ratio": max(ours_tps) / max(direct_tps),
        "ours_decode_tps": statistics.median(decode_tps),
        "ttft_ours_ms": statistics.median(ttft_ours),
        "ttft_direct_ms": statistics.median(ttft_direct),
        "runs": [(round(o, 1), round(d, 1)) for o, d in zip(ours_tps, direct_tps)],
    }


def report(name: str, figures: dict[str, Any], new_tokens: int) -> None:
    print(f"{name}: {new_tokens} new tokens, greedy, CPU float32, median of {len(figures['runs'])} alternating runs")
    print(f"  ours   {figures['ours_tps']:.1f} tokens/s end to end (decode alone {figures['ours_decode_tps']:.1f})")
    print(f"  direct {figures['direct_tps']:.1f} tokens/s")
    verdict = "met" if figures["ratio"] >= 0.95 else "NOT met"
    print(f"  ratio ours/direct: median of per-run ratios {figures['ratio']:.3f} (target >= 0.95): {verdict}; "
          f"best run against best run {figures['best_ratio']:.3f}")
    print(f"  time to first token: ours {figures['ttft_ours_ms']:.1f} ms, direct generate(1 token) "
          f"{figures['ttft_direct_ms']:.1f} ms")
    print(f"  per run (ours, direct tokens/s): {figures['runs']}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--skip-large", action="store_true", help="only the tiny model")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        registry = ModelRegistry(tmp_path / "models")
        tiny = copy_tiny(tmp_path / "tiny")
        registry.import_path(tiny, kind="llm", model_id="tiny", link=True)
        models = [("tiny", "llm-tiny (Qwen2, 2 layers, hidden 128)")]
        if not args.skip_large:
            large, params = write_large(tmp_path / "large", tiny)
            registry.import_path(large, kind="llm", model_id="large", link=True)
            models.append(("large", f"random Qwen2, 12 layers, hidden 768, {params / 1e6:.0f}M parameters"))
        with Engine(device=DeviceInfo.cpu("benchmark")) as engine:
            for model_id, name in models:
                report(name, bench(engine, registry, model_id, args.runs, args.tokens), args.tokens)
    return 0


if __name__ == "__main__":
    sys.exit(main())
