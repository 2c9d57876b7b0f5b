"""Vectors as a service: read a model's vectors by image id and find nearest neighbours, the same
way whether the library's index is the exact matrix or the approximate one (`VectorIndex.ann`).

Everything in `analysis/` reads vectors through `VectorSpace` only. Vectors read back from the
approximate index are its decoded 8-bit codes (cosine error about 1e-3, well inside every
threshold used here); the exact index gives the stored float16 values.

`close_pairs` is the similarity join that duplicates need. All pairs of a million vectors cannot
be compared one with another, so the vectors are split into cells around coarse centroids (the
approximate index's own, or a quick k-means) and compared within a cell; each vector also visits
its second-nearest cell, so a close pair lying across a border is still found. A small library
is one cell: exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Optional

import numpy as np

if TYPE_CHECKING:
    from ..photo_library import Library
    from ..store import LibraryStore
    from ..vectors import VectorIndex

CELL_ROWS = 1500  # vectors per cell of the similarity join (benchmarked: tests/benchmarks/analysis.py)
QUERY_BLOCK = 4096  # query rows scored against the library at a time
KMEANS_SAMPLE_PER_CELL = 40
INCREMENTAL_NEIGHBOURS = 64  # candidates per new image from the approximate index
RESCORE_FACTOR = 2  # approximate candidates rescored exactly per wanted neighbour (as search does)
RESCORE_MIN = 32
CLOSE_PROBES = 8  # clusters scanned for a new picture's close pairs: they lie in its nearest ones


class VectorSpace:
    """A read view of one model's `VectorIndex` (which stays owned by the `Library`)."""

    def __init__(self, index: "VectorIndex", store: "LibraryStore"):
        self.index = index
        self.store = store  # approximate neighbours are rescored on the stored vectors

    @classmethod
    def of(cls, library: "Library", model: str) -> "VectorSpace":
        """The model's vectors as the database holds them now (caught up through the change log)."""
        return cls(library.vector_index(model), library.store)

    @property
    def model(self) -> str:
        return self.index.model

    @property
    def dim(self) -> int:
        return self.index.dim

    @property
    def approximate(self) -> bool:
        return self.index.ann is not None

    def __len__(self) -> int:
        return len(self.index)

    def ids(self) -> np.ndarray:
        """Every image id with a vector, ascending."""
        with self.index.lock:
            return self.index.ids.copy()

    def dates(self, image_ids: np.ndarray) -> np.ndarray:
        """EXIF date, else file mtime, of held image ids (POSIX seconds)."""
        with self.index.lock:
            return self.index.dates[self.index.positions(np.asarray(image_ids, dtype=np.int64))].copy()

    def folder_ids(self, image_ids: np.ndarray) -> np.ndarray:
        with self.index.lock:
            return self.index.folder_ids[self.index.positions(np.asarray(image_ids, dtype=np.int64))].copy()

    def held(self, image_ids: np.ndarray) -> np.ndarray:
        """The subset of `image_ids` that have a vector, in the given order."""
        image_ids = np.asarray(image_ids, dtype=np.int64)
        with self.index.lock:
            return image_ids[np.isin(image_ids, self.index.ids)]

    def vectors(self, image_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the ids found, in the given order; their float32 unit vectors)."""
        found = self.held(image_ids)
        with self.index.lock:
            if self.index.ann is not None:
                return found, self.index.ann.vectors(found)
            if not len(found):
                return found, np.empty((0, self.dim), dtype=np.float32)
            rows = self.index.matrix[self.index.positions(found)]
            return found, rows.astype(np.float32, copy=False)

    def chunks(self, rows: int = 20_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every (ids, vectors) in id order, `rows` at a time: a million vectors never in float32 at once."""
        ids = self.ids()
        for start in range(0, len(ids), rows):
            yield self.vectors(ids[start:start + rows])

    def neighbours(self, image_ids: np.ndarray, k: int, probes: Optional[int] = None,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query ids found, neighbour ids (n, k), cosines (n, k)): the `k` nearest other images of
        each, best first; -1 / -inf where fewer exist. `probes`: clusters the approximate index
        scans (default: as search does; fewer suffice for very close neighbours)."""
        found, queries = self.vectors(image_ids)
        ids = np.full((len(found), k), -1, dtype=np.int64)
        scores = np.full((len(found), k), -np.inf, dtype=np.float32)
        if not len(found) or k <= 0:
            return found, ids, scores
        with self.index.lock:
            if self.index.ann is not None:
                self._approximate_neighbours(found, queries, ids, scores, probes)
                return found, ids, scores
            all_ids = self.index.ids
            for start in range(0, len(found), QUERY_BLOCK):
                block = queries[start:start + QUERY_BLOCK]
                sims = self._score_block(block)
                sims[np.arange(len(block)), self.index.positions(found[start:start + QUERY_BLOCK])] = -np.inf
                take = min(k, sims.shape[1])
                top = np.argpartition(-sims, take - 1, axis=1)[:, :take]
                top_scores = np.take_along_axis(sims, top, axis=1)
                order = np.argsort(-top_scores, axis=1, kind="stable")
                top, top_scores = np.take_along_axis(top, order, 1), np.take_along_axis(top_scores, order, 1)
                ids[start:start + len(block), :take] = np.where(np.isfinite(top_scores), all_ids[top], -1)
                scores[start:start + len(block), :take] = top_scores
        return found, ids, scores

    def _approximate_neighbours(self, found: np.ndarray, queries: np.ndarray, ids: np.ndarray,
                                scores: np.ndarray, probes: Optional[int]) -> None:
        """Over-fetch from the 8-bit codes, then order on the stored vectors: codes cannot order
        close neighbours."""
        import faiss

        k, ann = ids.shape[1], self.index.ann
        wanted = min(len(ann), max(RESCORE_MIN, k * RESCORE_FACTOR) + 1)
        # One batched search: faiss spreads the queries over the cores.
        _, found_ids = ann.index.search(np.ascontiguousarray(queries, dtype=np.float32), wanted,
                                        params=faiss.SearchParametersIVF(nprobe=min(ann.nprobe, probes or ann.nprobe)))
        candidates = [row[row >= 0] for row in found_ids]
        pool = np.unique(np.concatenate(candidates)) if candidates else np.empty(0, np.int64)
        pool, stored = self.index.stored_vectors(self.store.connection(), pool)
        for row, (image_id, query, near) in enumerate(zip(found, queries, candidates)):
            near = near[(near != image_id) & np.isin(near, pool)]
            sims = stored[np.searchsorted(pool, near)] @ query
            order = np.argsort(-sims, kind="stable")[:k]
            ids[row, :len(order)], scores[row, :len(order)] = near[order], sims[order]

    def _score_block(self, block: np.ndarray) -> np.ndarray:
        """Cosines of query rows with every vector of the exact index (n, N)."""
        matrix = self.index.matrix
        q = np.ascontiguousarray(block, dtype=np.float32)
        return q @ (matrix if matrix.dtype == np.float32 else matrix.astype(np.float32)).T

    # -- similarity join -------------------------------------------------------------------------

    def close_pairs(self, min_score: float, among: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(a, b, cosine) with a < b for pairs of images at least `min_score` alike. With `among`,
        only pairs that involve one of those ids (an incremental update), else every pair."""
        if among is not None:
            return self._pairs_of(np.asarray(among, dtype=np.int64), min_score)
        return self._all_pairs(min_score)

    def _pairs_of(self, among: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = min(len(self) - 1, INCREMENTAL_NEIGHBOURS)
        found, ids, scores = self.neighbours(among, max(k, 0), probes=CLOSE_PROBES)
        rows, cols = np.nonzero(scores >= min_score)
        a, b = found[rows], ids[rows, cols]
        return _ordered(a, b, scores[rows, cols])

    def _all_pairs(self, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ids = self.ids()
        if len(ids) < 2:
            return _ordered(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32))
        first, second = self._cells(ids)
        found_a, found_b, found_s = [], [], []
        for cell in np.unique(first):
            members = ids[first == cell]
            visitors = ids[(second == cell) & (first != cell)]
            _, home = self.vectors(members)
            queries = np.concatenate([members, visitors])
            _, visiting = self.vectors(visitors)
            sims = np.concatenate([home, visiting]) @ home.T
            sims[np.arange(len(members)), np.arange(len(members))] = -np.inf
            rows, cols = np.nonzero(sims >= min_score)
            found_a.append(queries[rows])
            found_b.append(members[cols])
            found_s.append(sims[rows, cols])
        a, b, s = _ordered(np.concatenate(found_a), np.concatenate(found_b), np.concatenate(found_s))
        return _unique_pairs(a, b, s)

    def _cells(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each vector's nearest and second-nearest cell (equal when there is one cell)."""
        import faiss

        cells = max(1, int(round(len(ids) / CELL_ROWS)))
        if cells == 1:
            zeros = np.zeros(len(ids), dtype=np.int64)
            return zeros, zeros
        centroids = self._centroids(ids, cells)
        quantizer = faiss.IndexFlatIP(centroids.shape[1])
        quantizer.add(centroids)
        first = np.empty(len(ids), dtype=np.int64)
        second = np.empty(len(ids), dtype=np.int64)
        at = 0
        for chunk_ids, vectors in self.chunks():
            _, nearest = quantizer.search(np.ascontiguousarray(vectors), 2)
            first[at:at + len(chunk_ids)], second[at:at + len(chunk_ids)] = nearest[:, 0], nearest[:, 1]
            at += len(chunk_ids)
        return first, second

    def _centroids(self, ids: np.ndarray, cells: int) -> np.ndarray:
        import faiss

        step = max(1, len(ids) // (cells * KMEANS_SAMPLE_PER_CELL))
        _, sample = self.vectors(ids[::step])
        kmeans = faiss.Kmeans(sample.shape[1], cells, niter=10, spherical=True, seed=1,
                              max_points_per_centroid=KMEANS_SAMPLE_PER_CELL)
        kmeans.train(np.ascontiguousarray(sample, dtype=np.float32))
        return kmeans.centroids


def _ordered(a: np.ndarray, b: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return lo.astype(np.int64), hi.astype(np.int64), s.astype(np.float32)


def _unique_pairs(a: np.ndarray, b: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not len(a):
        return a, b, s
    order = np.lexsort((b, a))
    a, b, s = a[order], b[order], s[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[first], b[first], s[first]
