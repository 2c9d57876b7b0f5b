"""Download throughput of `download_model` against huggingface_hub's own `hf_hub_download`,
both from the local fake hub on 127.0.0.1 in the same run, plus the cost of a dropped connection.

    python tests/benchmarks/downloads.py [--size-mb 256] [--runs 3]

Served: a transformers-layout folder whose weights file is `--size-mb` MB (an LFS file behind a
302 to the fake CDN, as on the hub). Runs alternate between the two sides.

Ours: repo info, Range-resumable GET, SHA-256 of the whole file, atomic install into the
registry. Baseline: `hf_hub_download` of the same file into an empty hub cache (a HEAD and a
GET; it checks the size but does not hash the content). Throughput is file MB / wall second.
Target: ours ≥ 50% of the baseline's throughput on loopback, where hashing is a large share
(on a real network link the transfer dominates). Resume: bytes served when the connection
drops at half the file, against the file size (target 1.00: nothing fetched twice).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.pop("HF_HUB_OFFLINE", None)
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"

REPO = "bench/big-model"
WEIGHTS = "model.safetensors"


def write_model(folder: Path, size_mb: int) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}))
    (folder / "tokenizer.json").write_text("{}")
    rng = np.random.default_rng(0)  # random bytes: nothing in the path can compress them
    save_file({"w": rng.random(size_mb * 10**6 // 4, dtype=np.float32)}, str(folder / WEIGHTS))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from huggingface_hub import hf_hub_download

    from latentstudio.models.catalogue import CatalogueEntry, CatalogueFile
    from latentstudio.models.download import download_model
    from latentstudio.models.registry import ModelRegistry
    from tests.support.fake_hub import FakeHub

    with tempfile.TemporaryDirectory() as tmp, FakeHub() as hub:
        work = Path(tmp)
        write_model(work / "source", args.size_mb)
        hub.add_folder(REPO, work / "source")
        os.environ["HF_ENDPOINT"] = hub.url
        size = (work / "source" / WEIGHTS).stat().st_size
        entry = CatalogueEntry(
            id="big", kind="llm", name="big", repo=REPO, revision="main", licence="MIT", licence_url="",
            good_for="", min_memory_gb=0, default_for=(),
            files=tuple(CatalogueFile(p.name, p.stat().st_size, p.name) for p in sorted((work / "source").iterdir())),
        )
        ours, baseline = [], []
        for run in range(args.runs):
            home = work / f"ours-{run}"
            start = time.perf_counter()
            download_model(entry, ModelRegistry(home / "models"), home / "downloads", offline=False)
            ours.append(size / 1e6 / (time.perf_counter() - start))

            start = time.perf_counter()
            hf_hub_download(REPO, WEIGHTS, cache_dir=work / f"hf-cache-{run}", endpoint=hub.url)
            baseline.append(size / 1e6 / (time.perf_counter() - start))

        hub.bytes_served.clear()
        hub.faults.drop_after[WEIGHTS] = size // 2
        home = work / "resume"
        download_model(entry, ModelRegistry(home / "models"), home / "downloads", offline=False)
        resumed_ratio = hub.bytes_served[WEIGHTS] / size

    ours_mbs, base_mbs = statistics.median(ours), statistics.median(baseline)
    print(f"file: {size / 1e6:.0f} MB, runs: {args.runs} (median)")
    print(f"ours (verify + install): {ours_mbs:8.1f} MB/s   runs: {', '.join(f'{v:.1f}' for v in ours)}")
    print(f"hf_hub_download:         {base_mbs:8.1f} MB/s   runs: {', '.join(f'{v:.1f}' for v in baseline)}")
    print(f"ratio ours/baseline:     {ours_mbs / base_mbs:8.2f}")
    print(f"bytes served with a drop at 50%, per file byte: {resumed_ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
