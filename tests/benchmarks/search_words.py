"""Search latency with keyword search (FTS5 over names and embedded text) against pictures alone,
on the same synthetic library: 100k images with 512-d vectors (as in search_latency.py) and a
words row each (a file name and 4-16 words of text drawn Zipf-like from a 20,000-word
vocabulary, as prompts and descriptions are). Each query is timed through `rank`, with words
(`SearchRequest.words=True`, the default) and without; the query vector is the same.

Usage: python tests/benchmarks/search_words.py [--size 100000] [--exact]
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
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_latency import MODEL, Vectors, fill, timed  # noqa: E402

from latentstudio.library.photo_library import Library  # noqa: E402
from latentstudio.library.search import SearchRequest, rank  # noqa: E402
from latentstudio.library.vectors import ANN_FROM_ROWS  # noqa: E402
from latentstudio.paths import Paths  # noqa: E402

VOCABULARY = 20_000
QUERIES = ["a dog on a beach", "w17 w230", '"w3 w41" sunset', "w9 w120 w4000", "w12345"]


def add_words(library: Library, size: int) -> None:
    rng = np.random.default_rng(7)
    store = library.store
    ids = [row[0] for row in store.connection().execute("SELECT id FROM images ORDER BY id")]
    with store.transaction() as db:
        for image_id in ids:
            words = rng.zipf(1.3, rng.integers(4, 17)) % VOCABULARY
            store.set_words(db, image_id, f"{image_id:07d}", " ".join(f"w{w}" for w in words))
    assert len(ids) == size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--exact", action="store_true", help="exact search instead of the approximate index")
    args = parser.parse_args()
    query = Vectors(7, "clustered").make(123, 1)[0]
    with tempfile.TemporaryDirectory(prefix="latent-words-bench-") as tmp:
        home = Path(tmp) / "home"
        library = Library(Paths(home).ensure())
        start = time.perf_counter()
        fill(library, Vectors(args.size, "clustered"), args.size)
        add_words(library, args.size)
        print(f"{args.size:,} images with vectors and words: filled in {time.perf_counter() - start:.0f} s")
        library.close()
        library = Library(Paths(home), ann_from_rows=None if args.exact else ANN_FROM_ROWS)
        index = library.vector_index(MODEL)
        kind = "approximate" if index.ann is not None else "exact"
        ratios = []
        for text in QUERIES:
            pictures = SearchRequest(text=text, limit=50, words=False)
            words = SearchRequest(text=text, limit=50)
            alone = timed(lambda: rank(library, index, query, [], pictures, 0.0), 15)
            both = timed(lambda: rank(library, index, query, [], words, 0.0), 15)
            matched = sum(h.matched != "picture" for h in rank(library, index, query, [], words, 0.0))
            ratios.append(both / alone)
            print(f"  {kind:<11} {text!r:24} pictures alone {alone:6.1f} ms, with words {both:6.1f} ms "
                  f"({both / alone:.2f}x; {matched} of 50 matched by words)")
        print(f"  median ratio {statistics.median(ratios):.2f}x, worst {max(ratios):.2f}x")
        library.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
