"""Analysis benchmarks: tagging, duplicate grouping, themes, map layout, memory.

- tags: 20 tags over N synthetic 512-d vectors (clustered like photo libraries), prompts already
  encoded (a stand-in encoder), first pass (calibration on the whole library) and an incremental
  pass after 1,000 new pictures; baseline: one matrix product of every vector with the 20 label
  vectors, the floor of any scoring.
- duplicates: the similarity join (close pairs at the "similar" cosine) over N vectors with 0.5%
  planted close copies (recall against them), then an incremental update after 100 new pictures;
  baseline: an exact top-1 neighbour search of 1,000 queries (faiss flat), scaled to N.
- planted: thresholds swept on real pictures with clip-shapes (re-encoded, resized, cropped copies
  against distinct pictures): the defaults of duplicates.py come from here.
- themes: k-means (k by silhouette) against HDBSCAN (scikit-learn) on clip-shapes pictures, by
  adjusted Rand index against the true classes.
- map: PCA and t-SNE layouts at 10k and 100k, with the main thread's timer lateness (p99) while
  the layout runs on another thread, as the GUI's event loop would see it.

Usage: python tests/benchmarks/analysis.py [--sizes 100000,1000000] [--map-sizes 10000,100000]
       [--parts tags,duplicates,planted,themes,map]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))

from latentstudio.library.analysis import duplicates as dup  # noqa: E402
from latentstudio.library.analysis import layout, tags  # noqa: E402
from latentstudio.library.store import analysis_tables as tables  # noqa: E402
from latentstudio.library.analysis.space import VectorSpace  # noqa: E402
from latentstudio.library.photo_library import Library  # noqa: E402
from latentstudio.library.store import vector_blob  # noqa: E402
from latentstudio.paths import Paths  # noqa: E402
from tests.benchmarks.search_latency import DIM, MODEL, Vectors, fill, rss_bytes  # noqa: E402

TAG_COUNT = 20


def reset_peak() -> int:
    """Start a new peak-memory window (Linux: VmHWM restarts from the current RSS); the RSS now."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")
    return rss_bytes()


def fake_encoder(texts):
    """Deterministic unit vectors per text: the benchmark times everything after encoding."""
    out = np.empty((len(texts), DIM), dtype=np.float32)
    for i, text in enumerate(texts):
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        out[i] = np.random.default_rng(seed).standard_normal(DIM)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def library_of(home: Path, size: int, copies: float = 0.0) -> tuple[Library, np.ndarray]:
    """A library of `size` clustered vectors; the last `copies` share are close copies of the
    first ones (cosine ≈ 0.99). Returns it and the planted (original, copy) row pairs."""
    library = Library(Paths(home).ensure())
    vectors = Vectors(size, "clustered")
    planted = int(size * copies)
    fill(library, vectors, size - planted)
    if planted:
        store = library.store
        folder = store.folder_by_path(Path("/bench/photos"))
        rng = np.random.default_rng(0)
        originals = vectors.make(0, min(size - planted, 50_000))[:planted]  # the first rows `fill` wrote
        noisy = originals + 0.0045 * rng.standard_normal(originals.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        with store.transaction() as db:
            db.executemany("INSERT INTO images(folder_id, path, size, mtime, hash, width, height, format, status, added) "
                           "VALUES(?, ?, 1000, 1.0, ?, 100, 100, 'jpeg', 'ok', 0)",
                           ((folder.id, f"/bench/copies/{i:07d}.jpg", f"c{i:015d}") for i in range(planted)))
            db.executemany("INSERT INTO vectors(hash, model, dim, data) VALUES(?, ?, ?, ?)",
                           ((f"c{i:015d}", MODEL, DIM, vector_blob(noisy[i])) for i in range(planted)))
    return library, np.stack([np.arange(1, planted + 1), np.arange(size - planted + 1, size + 1)], axis=1)


def bench_tags(size: int, tmp: Path) -> None:
    library, _ = library_of(tmp / f"tags-{size}", size)
    for i in range(TAG_COUNT):
        group = "group" if i < 4 else None
        tables.add_tag(library.store, f"label {i}", group)
    space = VectorSpace.of(library, MODEL)
    labels = tags.label_vectors(fake_encoder, [f"label {i}" for i in range(TAG_COUNT)])
    start = time.perf_counter()
    for _, vectors in space.chunks(tags.CHUNK_ROWS):
        vectors @ labels.T
    floor = time.perf_counter() - start
    before = reset_peak()
    start = time.perf_counter()
    report = tags.update_tags(library, MODEL, fake_encoder)
    first = time.perf_counter() - start
    peak = (rss_bytes("VmHWM") - before) / 2**20
    fill(library, Vectors(size, "clustered"), 1000, first=size)
    start = time.perf_counter()
    again = tags.update_tags(library, MODEL, fake_encoder)
    incremental = time.perf_counter() - start
    kind = "approximate" if space.approximate else "exact"
    print(f"tags: {TAG_COUNT} tags over {size:,} vectors ({kind} index): first pass {first:.2f} s "
          f"({report.assignments:,} assignments), baseline matrix product {floor:.2f} s, ratio {first / floor:.1f}; "
          f"+1,000 pictures: {incremental:.3f} s ({again.images_scored} scored, {len(again.calibrated)} recalibrated); "
          f"peak +{peak:.0f} MiB over the loaded index (RSS {before / 2**20:.0f} MiB)")
    library.close()


def bench_duplicates(size: int, tmp: Path) -> None:
    import faiss

    library, planted = library_of(tmp / f"dup-{size}", size, copies=0.005)
    space = VectorSpace.of(library, MODEL)
    _, probe = space.vectors(space.ids()[:1000])
    flat = faiss.IndexFlatIP(DIM)
    for _, vectors in space.chunks(100_000):
        flat.add(np.ascontiguousarray(vectors))
    start = time.perf_counter()
    flat.search(np.ascontiguousarray(probe), 2)
    brute = (time.perf_counter() - start) * size / 1000
    del flat
    baseline_rss = reset_peak()
    start = time.perf_counter()
    report = dup.update_pairs(library, MODEL)
    first = time.perf_counter() - start
    peak = (rss_bytes("VmHWM") - baseline_rss) / 2**20
    a, b, s = tables.pairs(library.store)[:3]
    found = set(zip(a.tolist(), b.tolist()))
    hits = sum((int(x), int(y)) in found for x, y in planted)
    near = s >= 0.97
    start = time.perf_counter()
    groups = dup.find_groups(library, ("exact", "similar"))
    grouping = time.perf_counter() - start
    fill(library, Vectors(size, "clustered"), 100, first=size + 10)
    start = time.perf_counter()
    again = dup.update_pairs(library, MODEL)
    incremental = time.perf_counter() - start
    kind = "approximate" if space.approximate else "exact"
    print(f"duplicates: {size:,} vectors ({kind} index): close pairs in {first:.1f} s ({report.pairs:,} pairs, "
          f"{int(near.sum()):,} at cosine ≥ 0.97), planted copies found {hits}/{len(planted)}; "
          f"groups in {grouping:.2f} s ({len(groups):,}); brute-force top-1 estimate {brute:.0f} s "
          f"(ratio {first / brute:.2f}); +100 pictures: {incremental:.3f} s ({again.images} images); "
          f"index {space.index.nbytes / 2**20:.0f} MiB, RSS before {baseline_rss / 2**20:.0f} MiB, "
          f"peak +{peak:.0f} MiB during the join")
    library.close()


def bench_planted(tmp: Path) -> None:
    """Near-duplicate thresholds on real pictures with clip-shapes (see tests/test_analysis_duplicates.py)."""
    from PIL import Image

    from tests.support import tiny_clip
    from tests.support.model_store import tiny_model
    from latentstudio.library.indexer import index_job  # noqa: F401  (the real indexing path)
    from latentstudio.context import AppContext
    from latentstudio.engine import DeviceInfo
    from latentstudio.library import add_folders, scan_library, submit_index

    ctx = AppContext(Paths(tmp / "planted-home"), device=DeviceInfo.cpu("benchmark"))
    try:
        ctx.registry.import_path(tiny_model("clip-shapes"), kind="clip", model_id="shapes", link=True)
        photos = tmp / "planted"
        photos.mkdir()
        rng = random.Random(21)
        for round_ in range(3):
            for colour, shape in tiny_clip.classes():
                image = tiny_clip.shape_image(colour, shape, rng, size=160)
                base = f"{colour}-{shape}-{round_}"
                image.save(photos / f"{base}.jpg", quality=95)
                image.save(photos / f"{base}-reencoded.jpg", quality=40)
                image.resize((100, 100), Image.LANCZOS).save(photos / f"{base}-resized.png")
                cut = int(image.width * 0.06)
                image.crop((cut, cut, image.width - cut, image.width - cut)).save(photos / f"{base}-cropped.jpg")
        add_folders(ctx, [photos])
        scan_library(ctx)
        submit_index(ctx).result(600)
        library = ctx.library
        dup.update_pairs(library, "shapes")
        a, b, s, pixels, bits = tables.pairs(library.store)
        rows = library.store.images_by_ids(np.unique(np.concatenate([a, b])).tolist())

        def origin(i: int) -> str:
            return "-".join(Path(rows[i].path).stem.split("-")[:3])

        same = np.array([origin(x) == origin(y) for x, y in zip(a.tolist(), b.tolist())])
        total = 36 * 6  # four pictures per original → six pairs
        print("planted copies (clip-shapes, 36 originals × 3 copies; pairs, same-class distinct pictures count "
              "as distinct): cosine ≥ t alone / cosine ≥ 0.90 and print ≤ p and hash bits ≤ NEAR_MAX_BITS")
        for t in (0.90, 0.95, 0.98, 0.99):
            on = s >= t
            print(f"  cosine ≥ {t:.2f}: precision {np.sum(on & same) / max(1, on.sum()):.2f}, "
                  f"recall {np.sum(on & same) / total:.2f}")
        for p in (6, 9, 12, 20, 27):
            on = (s >= dup.NEAR_MIN_SCORE) & (pixels <= p) & (bits <= dup.NEAR_MAX_BITS)
            print(f"  pixels ≤ {p:>2}: precision {np.sum(on & same) / max(1, on.sum()):.2f}, "
                  f"recall {np.sum(on & same) / total:.2f}")
    finally:
        ctx.close()


def bench_themes(tmp: Path) -> None:
    from sklearn.cluster import HDBSCAN
    from sklearn.metrics import adjusted_rand_score

    from latentstudio.library.analysis import themes
    from latentstudio.models.clip_loader import load_clip_folder
    from tests.support import tiny_clip
    from tests.support.model_store import tiny_model

    clip = load_clip_folder(tiny_model("clip-shapes"))
    rng = random.Random(8)
    pictures, truth = [], []
    for index, (colour, shape) in enumerate(tiny_clip.classes()):
        for _ in range(40):
            pictures.append(np.asarray(tiny_clip.shape_image(colour, shape, rng, size=32)))
            truth.append(index)
    vectors = clip.encode_pixels(np.stack(pictures))
    colour_truth = [t // 3 for t in truth]
    start = time.perf_counter()
    centroids = themes.fit(vectors)
    kmeans_s = time.perf_counter() - start
    labels = np.argmax(vectors @ centroids.T, axis=1)
    start = time.perf_counter()
    hdb = HDBSCAN(min_cluster_size=5, metric="cosine").fit_predict(vectors.astype(np.float64))
    hdb_s = time.perf_counter() - start
    print(f"themes on {len(vectors)} clip-shapes pictures (12 classes, 4 colours): k-means k={len(centroids)} "
          f"ARI classes {adjusted_rand_score(truth, labels):.2f} colours {adjusted_rand_score(colour_truth, labels):.2f} "
          f"in {kmeans_s:.2f} s; HDBSCAN {len(set(hdb) - {-1})} clusters, {np.mean(hdb == -1):.0%} unassigned, "
          f"ARI classes {adjusted_rand_score(truth, hdb):.2f} colours {adjusted_rand_score(colour_truth, hdb):.2f} "
          f"in {hdb_s:.2f} s")


def lateness_while(work) -> tuple[float, float, float]:
    """(seconds of work, p99 and max lateness in ms of a 5 ms timer on this thread meanwhile)."""
    done = threading.Event()
    result = {}

    def run() -> None:
        start = time.perf_counter()
        work()
        result["s"] = time.perf_counter() - start
        done.set()

    thread = threading.Thread(target=run)
    late = []
    thread.start()
    while not done.is_set():
        before = time.perf_counter()
        time.sleep(0.005)
        late.append((time.perf_counter() - before - 0.005) * 1000)
    thread.join()
    return result["s"], float(np.percentile(late, 99)), float(np.max(late))


def bench_map(size: int, tmp: Path, methods: list[str]) -> None:
    library, _ = library_of(tmp / f"map-{size}", size)
    space = VectorSpace.of(library, MODEL)
    for method in methods:
        seconds, p99, worst = lateness_while(lambda: layout.fit_layout(space, method))
        print(f"map: {size:,} vectors, {method}: {seconds:.1f} s; timer lateness on the main thread "
              f"p99 {p99:.1f} ms, max {worst:.1f} ms")
    library.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--map-sizes", default="10000,100000")
    parser.add_argument("--map-methods", default=",".join(layout.available_methods()))
    parser.add_argument("--parts", default="tags,duplicates,planted,themes,map")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory(prefix="latent-analysis-bench-") as name:
        tmp = Path(name)
        if "planted" in parts:
            bench_planted(tmp)
        if "themes" in parts:
            bench_themes(tmp)
        for size in (int(s) for s in args.sizes.split(",") if s):
            if "tags" in parts:
                bench_tags(size, tmp)
            if "duplicates" in parts:
                bench_duplicates(size, tmp)
            for folder in tmp.glob("*-" + str(size)):
                shutil.rmtree(folder, ignore_errors=True)
        if "map" in parts:
            for size in (int(s) for s in args.map_sizes.split(",") if s):
                bench_map(size, tmp, args.map_methods.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
