"""Approximate nearest-neighbour search for large libraries: faiss IVF over 8-bit codes.

An inverted file splits the unit vectors into `nlist` clusters; a query scans only the
`nprobe` clusters nearest to it, over 8-bit scalar-quantized codes (a quarter of float32:
1M × 512 takes 512 MiB). Inner product on unit vectors is the cosine. Image ids are the
faiss ids, and a hash-table direct map lets single vectors be removed and read back.

A saved index is read by mapping its file (1M vectors: 0.09 s instead of 0.77 s to read 537 MB).
Mapped lists are read-only — faiss aborts the process on a write to them — so the first add or
remove copies them into memory, as does `unmap` before the file is replaced.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Optional

import numpy as np

log = logging.getLogger(__name__)

TRAIN_PER_LIST = 30  # k-means sample size per cluster: enough for stable centroids, quick to train
MAX_LISTS = 4096
MIN_LISTS = 16
RANGE_MARGIN = 0.5  # code range widening, in widths of the sample's range, on each side


def list_count(rows: int) -> int:
    """Clusters for a library of `rows` vectors: about ½·√rows (1M: 500). Assigning every vector
    to its cluster dominates the first build, and a query scans the same share of the vectors
    (1/16) whatever the count."""
    return int(min(MAX_LISTS, max(MIN_LISTS, 0.5 * math.sqrt(max(rows, 1)))))


def probe_count(lists: int) -> int:
    """Clusters scanned per query: 1/16 of them, at least 8 (recall@20 on clustered vectors at 1M:
    0.988; 0.978 scanning 1/32; see docs/benchmarks.md)."""
    return min(lists, max(8, lists // 16))


class AnnIndex:
    def __init__(self, index, trained_rows: int, mapped: bool = False):
        self.index = index
        self.trained_rows = trained_rows  # library size the clusters were chosen for
        self.nprobe = probe_count(index.nlist)
        self.mapped = mapped  # the inverted lists are views of the saved file

    @classmethod
    def train(cls, sample: np.ndarray, rows: int) -> "AnnIndex":
        """An empty index with clusters learned from `sample` (float32 unit vectors) for a
        library expected to hold about `rows` vectors."""
        import faiss

        sample = np.ascontiguousarray(sample, dtype=np.float32)
        lists = min(list_count(rows), max(1, sample.shape[0] // 4))
        quantizer = faiss.IndexFlatIP(sample.shape[1])
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, sample.shape[1], lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        # Codes hold the vectors themselves, not their offsets from a centroid, and each dimension's
        # range is the sample's min..max widened by half its width on both sides: vectors added
        # later (new kinds of pictures, far from every centroid) must not be clipped.
        index.by_residual = False
        index.sq.rangestat = faiss.ScalarQuantizer.RS_minmax
        index.sq.rangestat_arg = RANGE_MARGIN
        index.cp.niter = 10
        index.cp.max_points_per_centroid = TRAIN_PER_LIST
        index.train(sample)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return cls(index, rows)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def nbytes(self) -> int:
        """Codes and ids held in the inverted lists, plus the centroids."""
        return len(self) * (self.index.code_size + 8) + self.index.nlist * self.dim * 4

    def unmap(self) -> None:
        """Copy mapped inverted lists into memory (in order, so the direct map's offsets hold)."""
        import faiss

        if not self.mapped:
            return
        mapped = self.index.invlists
        lists = faiss.ArrayInvertedLists(self.index.nlist, self.index.code_size)
        for number in range(self.index.nlist):
            size = mapped.list_size(number)
            if size:
                lists.add_entries(number, size, mapped.get_ids(number), mapped.get_codes(number))
        self.index.replace_invlists(lists, True)
        lists.this.disown()  # the index frees it; the mapped lists and their mapping are freed now
        self.mapped = False

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        if len(ids):
            self.unmap()
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        import faiss

        if not len(ids):
            return 0
        self.unmap()
        return int(self.index.remove_ids(faiss.IDSelectorArray(np.ascontiguousarray(ids, dtype=np.int64))))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored (8-bit decoded) vectors of these ids."""
        if not len(ids):
            return np.empty((0, self.dim), dtype=np.float32)
        return self.index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))

    def search(
        self, query: np.ndarray, k: int, allowed: Optional[np.ndarray] = None, exhaustive: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of up to `k` nearest vectors, best first. `allowed` is a boolean array
        indexed by image id (filters); `exhaustive` scans every cluster (for narrow filters)."""
        import faiss

        if not len(self) or k <= 0:
            return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
        params = faiss.SearchParametersIVF(nprobe=self.index.nlist if exhaustive else self.nprobe)
        if allowed is not None:
            bitmap = np.packbits(allowed, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(bitmap)
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        scores, ids = self.index.search(q, min(k, len(self)), params=params)
        found = ids[0] >= 0
        return scores[0][found], ids[0][found]

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def read(cls, path: Path, trained_rows: int) -> "AnnIndex":
        import faiss

        try:
            return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC), trained_rows, mapped=True)
        except RuntimeError as exc:  # a system faiss cannot map files on: read it whole
            log.info("reading %s whole: it cannot be mapped here (%s)", path, exc)
            return cls(faiss.read_index(str(path)), trained_rows)
