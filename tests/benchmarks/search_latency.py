"""Search latency at 10k, 100k and 1M stored vectors (synthetic, 512-d), split into text encode
and vector search; memory of the 1M index; and a cold CLI start to first answer at 1M.

The libraries are real library databases (images + float16 vectors in SQLite) filled with
random unit vectors. Text encoding uses the ViT-B-32 architecture with random weights.

Usage: python tests/benchmarks/search_latency.py [--sizes 10000,100000,1000000] [--no-cold-start]
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

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))

from latentstudio.library.catalog import Library  # noqa: E402
from latentstudio.library.search import SearchRequest, rank  # noqa: E402
from latentstudio.library.store import vector_blob  # noqa: E402
from latentstudio.models.clip_loader import load_clip_random  # noqa: E402
from latentstudio.paths import HOME_ENV, Paths  # noqa: E402

DIM = 512
MODEL = "bench-vit-b-32"
CHUNK = 50_000


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def fill(library: Library, count: int) -> None:
    """`count` images with random unit vectors, written the way the indexer writes them."""
    rng = np.random.default_rng(count)
    folder = library.store.add_folder(Path("/bench/photos"))
    store = library.store
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        vectors = rng.standard_normal((n, DIM), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        with store.transaction() as db:
            db.executemany(
                "INSERT INTO images(folder_id, path, size, mtime, hash, width, height, format, status, added) "
                "VALUES(?, ?, ?, ?, ?, 4000, 3000, 'jpeg', 'ok', 0)",
                ((folder.id, f"/bench/photos/{start + i:07d}.jpg", 3_000_000, 1.6e9 + start + i,
                  f"h{start + i:015d}") for i in range(n)),
            )
            db.executemany(
                "INSERT INTO vectors(hash, model, dim, data) VALUES(?, ?, ?, ?)",
                ((f"h{start + i:015d}", MODEL, DIM, vector_blob(vectors[i])) for i in range(n)),
            )


def timed(fn, repeat: int) -> float:
    """Median milliseconds over `repeat` runs after one warm-up."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def write_hub_model(clip, folder: Path) -> None:
    """The random ViT-B-32 in open_clip's hub layout, for the cold-start run."""
    import open_clip
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    config = {"model_cfg": open_clip.get_model_config("ViT-B-32"),
              "preprocess_cfg": {"mean": list(clip.spec.mean), "std": list(clip.spec.std)}}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    state = {k: v.contiguous() for k, v in clip.model.state_dict().items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))


def cold_start(home: Path, model_folder: Path) -> list[float]:
    """Seconds from launching `latent-studio search` to its printed answer, twice: the first run
    reads the rows from SQLite (and then saves the matrix), the second starts from the saved copy."""
    env = dict(os.environ, **{HOME_ENV: str(home)})
    cli = [sys.executable, "-m", "latentstudio.cli"]
    subprocess.run(cli + ["models", "import", str(model_folder), "--id", MODEL, "--link"], env=env,
                   check=True, capture_output=True)
    timings = []
    for _ in range(2):
        start = time.perf_counter()
        process = subprocess.Popen(cli + ["search", "a dog on a beach", "--limit", "5", "--min-score", "-1"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(5)]  # the answer, before the save
        timings.append(time.perf_counter() - start)
        _, errors = process.communicate()
        if process.returncode != 0 or not all(line.strip() for line in lines):
            raise RuntimeError(f"search failed ({process.returncode}): {errors[-2000:]}")
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--no-cold-start", action="store_true")
    args = parser.parse_args()
    import torch

    print(f"torch threads: {torch.get_num_threads()}")
    clip = load_clip_random("ViT-B-32")
    text_ms = timed(lambda: clip.encode_text(["a dog on a beach"]), 20)
    print(f"text encode (ViT-B-32, CPU): {text_ms:.1f} ms")
    query = clip.encode_text(["a dog on a beach"])[0]
    request = SearchRequest(text="a dog on a beach", limit=50, min_score=-1.0)
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="latent-search-bench-") as tmp:
        for size in sizes:
            home = Path(tmp) / f"home-{size}"
            library = Library(Paths(home).ensure())
            start = time.perf_counter()
            fill(library, size)
            fill_s = time.perf_counter() - start
            before = rss_bytes()
            start = time.perf_counter()
            index = library.vector_index(MODEL)
            load_s = time.perf_counter() - start
            grown = rss_bytes() - before
            scores_ms = timed(lambda: index.scores(query), 15)
            rank_ms = timed(lambda: rank(library, index, query, [], request, -1.0), 15)
            print(f"{size:>9,} vectors: matrix {index.matrix.dtype}, search {scores_ms:6.1f} ms (scores only), "
                  f"{rank_ms:6.1f} ms (scores + top-50 + rows); load {load_s:.2f} s; "
                  f"index {index.nbytes / 2**20:.0f} MiB, RSS +{grown / 2**20:.0f} MiB; fill {fill_s:.0f} s")
            if index.matrix.dtype != torch.float32:
                half = index.matrix
                index.matrix = half.float()  # the float32 alternative, for comparison
                f32_ms = timed(lambda: index.scores(query), 15)
                index.matrix = half
                print(f"{'':>9}  same matrix in float32 ({4 * half.nelement() / 2**20:.0f} MiB): "
                      f"search {f32_ms:6.1f} ms (scores only)")
            if size == max(sizes) and not args.no_cold_start:
                model = Path(tmp) / "vit-b-32"
                write_hub_model(clip, model)
                library.close()
                del index
                first, second = cold_start(home, model)
                print(f"cold start to first answer ({size:,} vectors, CLI process): {first:.2f} s reading the rows, "
                      f"{second:.2f} s from the saved matrix")
            library.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
