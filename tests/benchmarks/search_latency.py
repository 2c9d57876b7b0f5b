"""Search latency at 10k, 100k and 1M stored vectors (synthetic, 512-d): exact search against the
approximate index (faiss IVF-SQ8 with exact rescoring), with recall@20, memory, build and load
times, and what a write costs the next search (catch-up through the change log vs a full read).

The libraries are real library databases (images + float16 vectors in SQLite) filled with
clustered unit vectors (CLIP embeddings of photo libraries are clustered; `--spread random`
gives uniformly random vectors, the worst case for a clustering index). Recall queries are
library vectors with noise added; the latency query is a text encoding by ViT-B-32 with random
weights.

Usage: python tests/benchmarks/search_latency.py [--sizes 10000,100000,1000000] [--spread clustered|random]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))

from latentstudio.library.photo_library import Library  # noqa: E402
from latentstudio.library.search import SearchRequest, rank  # noqa: E402
from latentstudio.library.store import vector_blob  # noqa: E402
from latentstudio.library.vectors import ANN_FROM_ROWS  # noqa: E402
from latentstudio.models.clip_loader import load_clip_random  # noqa: E402
from latentstudio.paths import Paths  # noqa: E402

DIM = 512
MODEL = "bench-vit-b-32"
CHUNK = 50_000
NOISE = 0.039  # per component: a member's cosine with its cluster centre is about 0.75
QUERIES = 20


def rss_bytes(field: str = "VmRSS") -> int:
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


class Vectors:
    """Reproducible synthetic vectors, generated chunk by chunk (1M × 512 float32 is 2 GiB)."""

    def __init__(self, count: int, spread: str):
        self.spread = spread
        rng = np.random.default_rng(count)
        self.centers = rng.standard_normal((max(20, count // 500), DIM)).astype(np.float32)
        self.centers /= np.linalg.norm(self.centers, axis=1, keepdims=True)

    def make(self, start: int, n: int) -> np.ndarray:
        rng = np.random.default_rng(start + 1)
        noise = rng.standard_normal((n, DIM), dtype=np.float32)
        if self.spread == "random":
            vectors = noise
        else:
            vectors = self.centers[rng.integers(0, len(self.centers), n)] + NOISE * noise
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fill(library: Library, vectors: Vectors, count: int, first: int = 0) -> None:
    """`count` images with their vectors, written the way the indexer writes them."""
    store = library.store
    folder = store.folder_by_path(Path("/bench/photos")) or store.add_folder(Path("/bench/photos"))
    for start in range(first, first + count, CHUNK):
        n = min(CHUNK, first + count - start)
        chunk = vectors.make(start, n)
        with store.transaction() as db:
            db.executemany(
                "INSERT INTO images(folder_id, path, size, mtime, hash, width, height, format, status, added) "
                "VALUES(?, ?, ?, ?, ?, 4000, 3000, 'jpeg', 'ok', 0)",
                ((folder.id, f"/bench/photos/{start + i:07d}.jpg", 3_000_000, 1.6e9 + start + i,
                  f"h{start + i:015d}") for i in range(n)),
            )
            db.executemany(
                "INSERT INTO vectors(hash, model, dim, data) VALUES(?, ?, ?, ?)",
                ((f"h{start + i:015d}", MODEL, DIM, vector_blob(chunk[i])) for i in range(n)),
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


def recall_queries(vectors: Vectors, size: int) -> np.ndarray:
    rng = np.random.default_rng(12345)
    picks = rng.integers(0, size, QUERIES)
    rows = np.stack([vectors.make(int(p), 1)[0] for p in picks])
    noisy = rows + 0.02 * rng.standard_normal(rows.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def measure(home: Path, ann_from, query: np.ndarray, probes: np.ndarray, request: SearchRequest) -> dict:
    """Load one view of the library (exact or approximate) and time it."""
    library = Library(Paths(home), ann_from_rows=ann_from)
    before = rss_bytes()
    start = time.perf_counter()
    index = library.vector_index(MODEL)
    load_s = time.perf_counter() - start
    grown = rss_bytes() - before
    rank_ms = timed(lambda: rank(library, index, query, [], request, -1.0), 15)
    negative_ms = timed(lambda: rank(library, index, query, [probes[0]], request, -1.0), 5)
    answers = [[h.image_id for h in rank(library, index, p, [], SearchRequest(limit=20), -1.0)] for p in probes]
    result = dict(kind="ANN" if index.ann is not None else f"exact {index.matrix.dtype}".replace("torch.", ""),
                  load_s=load_s, rss_mib=grown / 2**20, index_mib=index.nbytes / 2**20, rank_ms=rank_ms,
                  negative_ms=negative_ms, answers=answers, library=library, index=index)
    if index.matrix is not None:
        result["scores_ms"] = timed(lambda: index.scores(query), 15)
    return result


def catch_up(library: Library, vectors: Vectors, first: int) -> float:
    """Seconds for the next search's index to follow 1,000 new and 100 removed images."""
    index = library.vector_index(MODEL)
    before = len(index)
    fill(library, vectors, 1000, first=first)
    with library.store.transaction() as db:
        db.executemany("DELETE FROM images WHERE id = ?", [(int(i),) for i in index.ids[:100]])
    reads = library.full_reads
    start = time.perf_counter()
    index = library.vector_index(MODEL)
    took = time.perf_counter() - start
    assert len(index) == before + 900 and library.full_reads == reads, "the write forced a full read"
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--spread", choices=("clustered", "random"), default="clustered")
    parser.add_argument("--skip-exact", action="store_true",
                        help="approximate index only, so the peak memory is the index build's")
    args = parser.parse_args()
    import torch

    print(f"torch threads: {torch.get_num_threads()}; approximate index from {ANN_FROM_ROWS:,} vectors")
    clip = load_clip_random("ViT-B-32")
    text_ms = timed(lambda: clip.encode_text(["a dog on a beach"]), 10)
    print(f"text encode (ViT-B-32, CPU): {text_ms:.1f} ms")
    query = clip.encode_text(["a dog on a beach"])[0]
    request = SearchRequest(text="a dog on a beach", limit=50, min_score=-1.0)
    with tempfile.TemporaryDirectory(prefix="latent-search-bench-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            home = Path(tmp) / f"home-{size}"
            vectors = Vectors(size, args.spread)
            library = Library(Paths(home).ensure())
            start = time.perf_counter()
            fill(library, vectors, size)
            print(f"{size:>9,} vectors ({args.spread}): filled in {time.perf_counter() - start:.0f} s")
            library.close()
            probes = recall_queries(vectors, size)
            # The approximate index first: its memory is measured before the exact matrix exists.
            before_peak = rss_bytes()
            ann = measure(home, 1, query, probes, request)
            ann["peak_mib"] = (rss_bytes("VmHWM") - before_peak) / 2**20
            ann["library"].save_index(MODEL)
            ann["library"].close()
            del ann["library"], ann["index"]
            start = time.perf_counter()
            restarted = Library(Paths(home), ann_from_rows=1)
            restarted.vector_index(MODEL)
            saved_s = time.perf_counter() - start
            assert restarted.full_reads == 0
            restarted.close()
            runs = []
            if not args.skip_exact:
                exact = measure(home, None, query, probes, request)
                exact_update_s = catch_up(exact["library"], vectors, size)
                exact["library"].close()
                del exact["library"], exact["index"]
                runs.append((exact, exact_update_s))
            reopened = Library(Paths(home), ann_from_rows=1)  # saved copy + the exact run's writes
            update_s = catch_up(reopened, vectors, size + 1000)
            reopened.close()
            runs.append((ann, update_s))
            for r, update in runs:
                scores = f", scores only {r['scores_ms']:.1f} ms" if "scores_ms" in r else ""
                print(f"  {r['kind']:<14} top-50 {r['rank_ms']:7.1f} ms (with a negative term "
                      f"{r['negative_ms']:.1f} ms{scores}); first load {r['load_s']:.2f} s; "
                      f"index {r['index_mib']:.0f} MiB, RSS +{r['rss_mib']:.0f} MiB; "
                      f"after +1000/−100 images: {update:.2f} s")
            print(f"  ANN: peak RSS during the first load at most +{ann['peak_mib']:.0f} MiB (VmHWM, so an earlier "
                  "phase's peak counts too; exact only with --skip-exact on one size); "
                  f"the saved copy loads in {saved_s:.2f} s")
            if not args.skip_exact:
                recall = statistics.mean(len(set(a) & set(e)) / 20 for a, e in zip(ann["answers"], exact["answers"]))
                print(f"  ANN recall@20 vs exact: {recall:.3f} over {QUERIES} queries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
