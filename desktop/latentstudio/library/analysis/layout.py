"""The map: a 2-D layout of every picture, photos and generated images together.

Methods: "pca" (the plane of the two main directions: instant, also the fallback) and "tsne"
(openTSNE, which keeps neighbourhoods together; used when the `map` extra is installed, chosen by
tests/benchmarks/analysis.py). Computed as a background job and saved with the library.

Incremental: a new or changed picture is placed at the similarity-weighted mean of its nearest
placed neighbours (for PCA, projected exactly), a removed one is dropped; the layout is fitted
again once the library has grown or shrunk by REFIT_GROWTH since the last fit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from ..store import analysis_tables as tables
from . import saved
from .space import VectorSpace

if TYPE_CHECKING:
    from ..photo_library import Library

log = logging.getLogger(__name__)

MAP_FILE = "map.npz"
FORMAT = 1
METHODS = ("tsne", "pca")
REFIT_GROWTH = 1.5
NEIGHBOURS = 8
PCA_SAMPLE = 20_000
TSNE_PERPLEXITY = 30
CURSOR = "map"


@dataclass
class MapLayout:
    ids: np.ndarray  # image ids, ascending
    xy: np.ndarray  # (n, 2) float32
    method: str
    fitted_rows: int
    seq: int  # change-log position the layout follows
    mean: np.ndarray  # PCA: centre and (2, d) axes, to project new pictures exactly
    axes: np.ndarray
    shift: np.ndarray  # the fit's raw coordinates → these: (raw - shift) / scale
    scale: float

    def stale(self, rows: int) -> bool:
        grown = max(rows, 1) / max(self.fitted_rows, 1)
        return grown >= REFIT_GROWTH or grown <= 1 / REFIT_GROWTH


def available_methods() -> list[str]:
    found = ["pca"]
    try:
        import openTSNE  # noqa: F401
    except ImportError:
        return found
    return ["tsne", *found]


def default_method() -> str:
    return available_methods()[0]


def principal_axes(space: VectorSpace) -> tuple[np.ndarray, np.ndarray]:
    ids = space.ids()
    _, sample = space.vectors(ids[:: max(1, len(ids) // PCA_SAMPLE)])
    mean = sample.mean(axis=0)
    _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
    return mean.astype(np.float32), vt[:2].astype(np.float32)


def fit_layout(space: VectorSpace, method: str, checkpoint: Callable[[], None] = lambda: None) -> MapLayout:
    if method not in available_methods():
        raise ValueError(f"map method {method!r} is not available (choose from {', '.join(available_methods())})")
    ids = space.ids()
    if len(ids) >= 2:
        mean, axes = principal_axes(space)
    else:
        mean, axes = np.zeros(space.dim, np.float32), np.zeros((2, space.dim), np.float32)
    checkpoint()
    if method == "pca" or len(ids) < 3 * TSNE_PERPLEXITY + 2:
        method = "pca"
        xy = np.concatenate([(v - mean) @ axes.T for _, v in space.chunks()]) if len(ids) else np.empty((0, 2))
    else:
        xy = _tsne(space, mean, axes)
    shift, scale = _frame(xy)
    return MapLayout(ids, ((xy - shift) / scale).astype(np.float32), method, len(ids), space.index.seq, mean, axes,
                     shift, scale)


def _tsne(space: VectorSpace, mean: np.ndarray, axes: np.ndarray) -> np.ndarray:
    from openTSNE import TSNE

    _, vectors = space.vectors(space.ids())
    start = (vectors - mean) @ axes.T
    start = start / (np.std(start[:, 0]) or 1.0) * 1e-4  # openTSNE's recommended PCA start scale
    embedding = TSNE(perplexity=TSNE_PERPLEXITY, metric="cosine", n_jobs=2, random_state=1,
                     initialization=start.astype(np.float64), neighbors="annoy" if len(vectors) > 10_000 else "exact",
                     verbose=False).fit(vectors.astype(np.float32))
    return np.asarray(embedding, dtype=np.float32)


def _frame(xy: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre and scale that bring the larger spread to about ±1: layouts of any method alike."""
    if not len(xy):
        return np.zeros(2, dtype=np.float32), 1.0
    shift = np.median(xy, axis=0).astype(np.float32)
    return shift, float(np.quantile(np.abs(xy - shift), 0.99)) or 1.0


def place(space: VectorSpace, layout: MapLayout, new_ids: np.ndarray) -> np.ndarray:
    """Positions for pictures not in the layout, from their placed neighbours."""
    found, vectors = space.vectors(new_ids)
    if layout.method == "pca" or not len(layout.ids):
        return (((vectors - layout.mean) @ layout.axes.T - layout.shift) / layout.scale).astype(np.float32)
    _, near, sims = space.neighbours(found, NEIGHBOURS * 2)
    xy = np.zeros((len(found), 2), dtype=np.float32)
    for row in range(len(found)):
        placed = np.isin(near[row], layout.ids) & np.isfinite(sims[row])
        if not placed.any():
            continue
        where = np.searchsorted(layout.ids, near[row][placed][:NEIGHBOURS])
        weights = np.maximum(sims[row][placed][:NEIGHBOURS], 1e-3) ** 4  # the closest lead
        xy[row] = (layout.xy[where] * weights[:, None]).sum(axis=0) / weights.sum()
    return xy


def update_map(library: "Library", model: str, method: Optional[str] = None, refit: bool = False,
               checkpoint: Callable[[], None] = lambda: None) -> MapLayout:
    """The saved layout brought up to date with the library (fitted again when asked, missing,
    made by another method, or stale)."""
    space = VectorSpace.of(library, model)
    method = method or default_method()
    layout = load_map(library, model)
    small = len(space) < 3 * TSNE_PERPLEXITY + 2  # too few pictures for t-SNE: PCA stands in
    if refit or layout is None or (layout.method != method and not small) or layout.stale(len(space)):
        layout = fit_layout(space, method, checkpoint)
    else:
        ids = space.ids()
        changed = tables.changed_images(library.store, layout.seq, space.index.seq)
        if changed is None:
            changed = np.empty(0, dtype=np.int64)
        stay = np.isin(layout.ids, ids) & ~np.isin(layout.ids, changed)
        kept = MapLayout(layout.ids[stay], layout.xy[stay], layout.method, layout.fitted_rows, layout.seq,
                         layout.mean, layout.axes, layout.shift, layout.scale)
        new = ids[~np.isin(ids, kept.ids)]
        checkpoint()
        xy = np.concatenate([kept.xy, place(space, kept, new)])
        all_ids = np.concatenate([kept.ids, new])
        order = np.argsort(all_ids, kind="stable")
        layout = MapLayout(all_ids[order], xy[order], kept.method, kept.fitted_rows, space.index.seq,
                           kept.mean, kept.axes, kept.shift, kept.scale)
    save_map(library, model, layout)
    return layout


def save_map(library: "Library", model: str, layout: MapLayout) -> None:
    saved.save(saved.analysis_folder(library.paths.home, model) / MAP_FILE, FORMAT, ids=layout.ids, xy=layout.xy,
               method=np.array(layout.method), fitted_rows=np.array(layout.fitted_rows), seq=np.array(layout.seq),
               mean=layout.mean, axes=layout.axes, shift=layout.shift, scale=np.array(layout.scale))


def load_map(library: "Library", model: str) -> Optional[MapLayout]:
    data = saved.load(saved.analysis_folder(library.paths.home, model) / MAP_FILE, FORMAT)
    if data is None:
        return None
    return MapLayout(data["ids"], data["xy"], str(data["method"]), int(data["fitted_rows"]), int(data["seq"]),
                     data["mean"], data["axes"], data["shift"], float(data["scale"]))
