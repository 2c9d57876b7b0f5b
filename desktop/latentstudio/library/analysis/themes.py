"""Themes: a summary of a library as clusters of its pictures, named from the text side.

Clusters are spherical k-means (faiss) on the unit vectors; k is the candidate with the best
silhouette on a sample (the choice against other algorithms is in tests/benchmarks/analysis.py).
Each cluster is named by the phrase nearest its centre among a bundled vocabulary of everyday
subjects and the user's tags (each phrase encoded with the tag templates), no name used twice.

Identical pictures always share a theme: k-means on a sample holding many copies of one vector
can put several centres on that one point, and then which of them a copy is nearest to is decided
by rounding in the matrix product, which differs with a row's place in it (nine identical
pictures were spread over three themes). So centres closer than SAME_CENTRE are merged, and
pictures are assigned once per distinct vector (`nearest`).

Incremental: the centres are saved; new pictures join their nearest centre, and the clusters are
fitted again once the library has grown or shrunk by REFIT_GROWTH since the last fit.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

import numpy as np

from ...models.catalogue import resources_dir
from ..store import analysis_tables as tables
from . import saved
from .space import VectorSpace
from .tags import TextEncoder, label_vectors

if TYPE_CHECKING:
    from ..photo_library import Library

VOCABULARY = "everyday-subjects.txt"
THEMES_FILE = "themes.npz"
VOCABULARY_FILE = "vocabulary.npz"
FORMAT = 1
CANDIDATE_KS = (2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24)
MIN_PER_THEME = 3
SAMPLE_ROWS = 4000  # vectors the clusters are chosen and fitted on
SILHOUETTE_ROWS = 1500
REFIT_GROWTH = 1.5
EXAMPLES = 3
SAME_CENTRE = 0.9999  # cosine above which two fitted centres are one


@dataclass
class Themes:
    centroids: np.ndarray  # (k, d) unit vectors
    names: list[str]
    fitted_rows: int

    def assign(self, vectors: np.ndarray) -> np.ndarray:
        if not len(self.names):
            return np.zeros(len(vectors), dtype=np.int64)
        return nearest(vectors, self.centroids)[0]

    def stale(self, rows: int) -> bool:
        grown = max(rows, 1) / max(self.fitted_rows, 1)
        return grown >= REFIT_GROWTH or grown <= 1 / REFIT_GROWTH


@dataclass
class ThemeSummary:
    name: str
    count: int
    examples: list[str]  # paths of the pictures nearest the theme's centre

    def to_json(self) -> dict:
        return {"name": self.name, "count": self.count, "examples": self.examples}


def nearest(vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each vector's nearest centre and its cosine, computed once per distinct vector so that
    identical vectors get one answer (see the module docstring)."""
    if not len(vectors):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    # An exact integer hash of each row's bits: equal rows, equal keys (a float key would not do).
    bits = np.ascontiguousarray(vectors, dtype=np.float32).view(np.uint32).astype(np.uint64)
    weights = np.random.default_rng(0).integers(1, 2**63, size=bits.shape[1], dtype=np.uint64) | np.uint64(1)
    keys = (bits * weights).sum(axis=1, dtype=np.uint64)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    sims = vectors[first] @ centroids.T
    return np.argmax(sims, axis=1)[inverse.ravel()], sims.max(axis=1)[inverse.ravel()]


def distinct_centres(centroids: np.ndarray) -> np.ndarray:
    """The centres without repeats: one of each set closer than SAME_CENTRE."""
    kept: list[int] = []
    for i in range(len(centroids)):
        if all(float(centroids[i] @ centroids[j]) < SAME_CENTRE for j in kept):
            kept.append(i)
    return centroids[kept]


def vocabulary() -> list[str]:
    lines = (resources_dir() / VOCABULARY).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def silhouette(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with cosine distance (1 for tight, far-apart clusters; near 0 for none)."""
    distance = 1.0 - vectors @ vectors.T
    clusters = np.unique(labels)
    if len(clusters) < 2:
        return -1.0
    mean_to = np.stack([distance[:, labels == c].mean(axis=1) for c in clusters], axis=1)
    own = np.searchsorted(clusters, labels)
    sizes = np.array([(labels == c).sum() for c in clusters])
    a = mean_to[np.arange(len(labels)), own] * sizes[own] / np.maximum(sizes[own] - 1, 1)
    mean_to[np.arange(len(labels)), own] = np.inf
    b = mean_to.min(axis=1)
    return float(np.mean((b - a) / np.maximum(np.maximum(a, b), 1e-9)))


def kmeans(sample: np.ndarray, k: int, seed: int = 1) -> np.ndarray:
    import faiss

    model = faiss.Kmeans(sample.shape[1], k, niter=25, spherical=True, seed=seed, nredo=2,
                         min_points_per_centroid=1, max_points_per_centroid=max(1, len(sample) // k + 1))
    model.train(np.ascontiguousarray(sample, dtype=np.float32))
    return model.centroids / np.linalg.norm(model.centroids, axis=1, keepdims=True)


def fit(sample: np.ndarray) -> np.ndarray:
    """Centres for the sample: the candidate k with the best silhouette."""
    best, best_score = None, -np.inf
    check = sample[:: max(1, len(sample) // SILHOUETTE_ROWS)]
    for k in (k for k in CANDIDATE_KS if k * MIN_PER_THEME <= len(sample)):
        centroids = distinct_centres(kmeans(sample, k))
        score = silhouette(check, nearest(check, centroids)[0])
        if score > best_score:
            best, best_score = centroids, score
    if best is None:  # too few pictures to split: one theme
        best = sample.mean(axis=0, keepdims=True)
        best /= np.linalg.norm(best)
    return best.astype(np.float32)


def name(centroids: np.ndarray, phrases: Sequence[str], vectors: np.ndarray) -> list[str]:
    """Greedy: the closest (centre, phrase) pairs first, each phrase once."""
    sims = centroids @ vectors.T
    names: list[Optional[str]] = [None] * len(centroids)
    used: set[int] = set()
    for flat in np.argsort(-sims, axis=None):
        c, p = divmod(int(flat), len(phrases))
        if names[c] is None and p not in used:
            names[c] = phrases[p]
            used.add(p)
        if all(n is not None for n in names):
            break
    return [n or f"theme {i + 1}" for i, n in enumerate(names)]


def phrase_vectors(folder: Path, phrases: list[str], encode: TextEncoder) -> np.ndarray:
    """The phrases' template-ensemble vectors, cached per model next to the themes."""
    digest = hashlib.sha256("\n".join(phrases).encode()).hexdigest()
    path = folder / VOCABULARY_FILE
    cached = saved.load(path, FORMAT)
    if cached is not None and str(cached["digest"]) == digest:
        return cached["vectors"]
    vectors = label_vectors(encode, phrases)
    saved.save(path, FORMAT, digest=np.array(digest), vectors=vectors)
    return vectors


def update_themes(library: "Library", model: str, encode: TextEncoder, refit: bool = False,
                  checkpoint: Callable[[], None] = lambda: None) -> Themes:
    """The saved themes, fitted again when missing, asked for or stale."""
    folder = saved.analysis_folder(library.paths.home, model)
    space = VectorSpace.of(library, model)
    current = load_themes(library, model)
    if current is not None and not refit and not current.stale(len(space)):
        return current
    ids = space.ids()
    if not len(ids):
        return Themes(np.empty((0, 0), dtype=np.float32), [], 0)
    _, sample = space.vectors(ids[:: max(1, len(ids) // SAMPLE_ROWS)])
    checkpoint()
    centroids = fit(sample)
    checkpoint()
    phrases = list(dict.fromkeys(vocabulary() + [t.label for t in tables.tags(library.store)]))
    names = name(centroids, phrases, phrase_vectors(folder, phrases, encode))
    themes = Themes(centroids, names, len(ids))
    saved.save(folder / THEMES_FILE, FORMAT, centroids=centroids, names=np.array(names, dtype=str),
               fitted_rows=np.array(len(ids)))
    return themes


def load_themes(library: "Library", model: str) -> Optional[Themes]:
    data = saved.load(saved.analysis_folder(library.paths.home, model) / THEMES_FILE, FORMAT)
    if data is None:
        return None
    return Themes(data["centroids"], [str(n) for n in data["names"]], int(data["fitted_rows"]))


def summarise(library: "Library", model: str, themes: Themes, folder: Optional[Path] = None) -> list[ThemeSummary]:
    """The themes of the library (or of the pictures under `folder`), largest first, each with its
    count and the pictures nearest its centre."""
    space = VectorSpace.of(library, model)
    ids = space.ids()
    if folder is not None:
        ids = ids[np.isin(ids, _images_under(library, Path(folder)))]
    if not len(ids) or not themes.names:
        return []
    labels, closeness = np.empty(len(ids), dtype=np.int64), np.empty(len(ids), dtype=np.float32)
    at = 0
    for start in range(0, len(ids), 50_000):
        found, vectors = space.vectors(ids[start:start + 50_000])
        labels[at:at + len(found)], closeness[at:at + len(found)] = nearest(vectors, themes.centroids)
        at += len(found)
    labels, closeness, ids = labels[:at], closeness[:at], ids[:at]
    summaries = []
    for theme in np.argsort(-np.bincount(labels, minlength=len(themes.names)), kind="stable"):
        members = np.flatnonzero(labels == theme)
        if not len(members):
            continue
        closest = ids[members[np.argsort(-closeness[members])]]
        rows = library.store.images_by_ids(closest[: EXAMPLES * 4].tolist())
        paths = [rows[i].path for i in closest[: EXAMPLES * 4].tolist() if i in rows]
        summaries.append(ThemeSummary(themes.names[theme], len(members), paths[:EXAMPLES]))
    return summaries


def _images_under(library: "Library", folder: Path) -> np.ndarray:
    under = Path(os.path.abspath(folder.expanduser()))
    ids = [row.id for fid in library.folder_ids_under(under) for path, row in library.store.images_in(fid).items()
           if Path(path).is_relative_to(under)]
    return np.array(sorted(ids), dtype=np.int64)
