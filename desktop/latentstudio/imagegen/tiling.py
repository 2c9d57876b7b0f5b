"""Run an image model over a picture in overlapping tiles, blending the seams.

Along each side the fewest tiles of at most `tile` pixels that overlap by `overlap` are taken,
shrunk to cover the side exactly with that overlap (no thin last tile, no overlap wider than
asked: the pixels computed twice stay few). In each overlap the outer quarter of every tile is dropped (its pixels lacked
context) and the middle half cross-fades linearly into the neighbour, so a model whose reach is
under a quarter of the overlap gives exactly the untiled picture. The weights are separable
(one ramp across, one down), so their sums are known per column and per row: the output is
normalised band by band, and only one band of tile rows is ever held in float.

On out-of-memory the tile size halves and the pass starts again.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from ..engine.residency import ModelMemoryError, is_out_of_memory

log = logging.getLogger(__name__)

MIN_TILE = 32  # input pixels; below this the overlap would be most of each tile
MIN_OVERLAP = 16  # input pixels: 4 dropped at each tile's edge, 8 cross-faded


def default_overlap(tile: int) -> int:
    """A sixteenth of the tile, at least 16 pixels: the pixels computed twice stay about 6%."""
    return max(MIN_OVERLAP, tile // 16)

# (tiles done, tiles in this pass, (x, y, width, height) of the tile in the input, its output as a
# float (3, h, w) tensor in 0..1): called after every tile, where the job checkpoints and previews.
TileDone = Callable[[int, int, tuple[int, int, int, int], Any], None]
# (tile size) before each attempt at a pass, so the caller can say which size is tried.
TileSizeChosen = Callable[[int], None]


def tile_span(length: int, tile: int, overlap: int) -> int:
    """The size of the tiles along one side: at most `tile`, as small as covers it with `overlap`."""
    if length <= tile:
        return length
    count = math.ceil((length - overlap) / (tile - overlap))
    return math.ceil((length + (count - 1) * overlap) / count)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Where the tiles along one side start: evenly spread, each overlap at least `overlap`."""
    span = tile_span(length, tile, overlap)
    if span >= length:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - span) / (count - 1)) for i in range(count)]


def ramp(size: int, ramp_before: bool, ramp_after: bool, overlap: int) -> np.ndarray:
    """One tile's weights along one side (output pixels): 1 inside, a cross-fade toward a neighbour.

    The outermost quarter of the overlap is 0, the middle half rises linearly: neighbouring
    tiles whose overlap is exactly `overlap` add up to 1 there."""
    weights = np.ones(size, dtype=np.float32)
    margin = overlap / 4
    width = overlap - 2 * margin
    distance = np.arange(size, dtype=np.float32) + 0.5
    if ramp_before:
        weights = np.minimum(weights, np.clip((distance - margin) / width, 0.0, 1.0))
    if ramp_after:
        weights = np.minimum(weights, np.clip((distance[::-1] - margin) / width, 0.0, 1.0))
    return weights


@dataclass(frozen=True)
class TilePlan:
    """The tiles of one pass over a width x height picture."""

    width: int
    height: int
    tile: int
    overlap: int

    @property
    def tile_width(self) -> int:
        return tile_span(self.width, self.tile, self.overlap)

    @property
    def tile_height(self) -> int:
        return tile_span(self.height, self.tile, self.overlap)

    @property
    def xs(self) -> list[int]:
        return tile_starts(self.width, self.tile, self.overlap)

    @property
    def ys(self) -> list[int]:
        return tile_starts(self.height, self.tile, self.overlap)

    @property
    def count(self) -> int:
        return len(self.xs) * len(self.ys)

    def weights(self, starts: list[int], size: int, length: int, scale: int) -> tuple[list[np.ndarray], np.ndarray]:
        """Per tile along one side its output weights, and their sum over the whole side."""
        ramps = []
        total = np.zeros(length * scale, dtype=np.float32)
        for start in starts:
            weights = ramp(size * scale, start > 0, start + size < length, self.overlap * scale)
            ramps.append(weights)
            total[start * scale : (start + size) * scale] += weights
        return ramps, total


def plan_for(width: int, height: int, tile: int, overlap: Optional[int] = None) -> TilePlan:
    """A plan whose overlap leaves each tile mostly its own (at most a quarter of the tile)."""
    return TilePlan(width, height, tile, min(default_overlap(tile) if overlap is None else overlap, tile // 4))


def run_tiles(
    model: Callable[[Any], Any],
    image: np.ndarray,
    scale: int,
    plan: TilePlan,
    on_tile: Optional[TileDone] = None,
) -> np.ndarray:
    """One pass: `model` maps a (1, 3, h, w) float tensor in 0..1 to (1, 3, h*scale, w*scale);
    `image` and the result are (height, width, 3) uint8 arrays."""
    import torch

    height, width = image.shape[:2]
    out_width = width * scale
    output = np.empty((height * scale, out_width, 3), dtype=np.uint8)
    tile_w, tile_h = plan.tile_width, plan.tile_height
    xs, ys = plan.xs, plan.ys
    x_ramps, x_total = plan.weights(xs, tile_w, width, scale)
    y_ramps, y_total = plan.weights(ys, tile_h, height, scale)
    x_norm = torch.from_numpy(x_total)
    carry: Optional[Any] = None  # float rows of the band above that the next band overlaps
    done = 0
    for row, y in enumerate(ys):
        band = torch.zeros(3, tile_h * scale, out_width)
        if carry is not None:
            band[:, : carry.shape[1]] = carry
        wy = torch.from_numpy(y_ramps[row])[None, :, None]
        for column, x in enumerate(xs):
            patch = image[y : y + tile_h, x : x + tile_w].copy()  # contiguous and writable, as torch wants
            source = torch.from_numpy(patch).permute(2, 0, 1)[None].float().div_(255)
            result = model(source)[0].float().cpu()
            weight = wy * torch.from_numpy(x_ramps[column])[None, None, :]
            band[:, :, x * scale : (x + tile_w) * scale].addcmul_(result, weight)
            done += 1
            if on_tile is not None:
                on_tile(done, plan.count, (x, y, tile_w, tile_h), result)
        final_rows = (ys[row + 1] - y) * scale if row + 1 < len(ys) else tile_h * scale
        top = y * scale
        norm = torch.from_numpy(y_total[top : top + final_rows])[None, :, None] * x_norm[None, None, :]
        finished = band[:, :final_rows].div_(norm).clamp_(0, 1).mul_(255).round_()
        output[top : top + final_rows] = finished.to(torch.uint8).permute(1, 2, 0).numpy()
        carry = band[:, final_rows:].clone() if row + 1 < len(ys) else None
    return output


def run_tiles_halving(
    model: Callable[[Any], Any],
    image: np.ndarray,
    scale: int,
    tile: int,
    overlap: Optional[int] = None,
    on_tile: Optional[TileDone] = None,
    on_tile_size: Optional[TileSizeChosen] = None,
    free_memory: Callable[[], None] = lambda: None,
) -> tuple[np.ndarray, int]:
    """`run_tiles`, with the tile size halved (and the pass begun again) on out-of-memory.

    Returns (the upscaled picture, the tile size that worked)."""
    while True:
        if on_tile_size is not None:
            on_tile_size(tile)
        try:
            return run_tiles(model, image, scale, plan_for(image.shape[1], image.shape[0], tile, overlap), on_tile), tile
        except BaseException as exc:  # a cancel (BaseException) is no out-of-memory: raised below
            if not is_out_of_memory(exc):
                raise
            free_memory()
            if tile // 2 < MIN_TILE:
                raise ModelMemoryError(
                    f"Not enough memory to upscale even in tiles of {tile} pixels. Close other programs "
                    "using the GPU, or choose a smaller upscaler."
                ) from exc
            log.warning("out of memory upscaling in %d-pixel tiles; trying %d", tile, tile // 2)
            tile //= 2
