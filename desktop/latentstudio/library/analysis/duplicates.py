"""Duplicates, near-duplicates and similar series, kept apart.

- exact: the same content hash (copies of one file);
- near: different files of the same picture (re-encoded, resized, lightly cropped): CLIP cosine
  at least NEAR_MIN_SCORE *and* the pixels alike at the best-aligned centred crop (`pixels.py`):
  colour prints within NEAR_MAX_PRINT and difference hashes within NEAR_MAX_BITS. Other shots of
  a burst, the same subject on another background, turned or moved, are as close to CLIP as a
  copy is and stay out;
- similar: bursts and the same scene: cosine at least SIMILAR_MIN_SCORE, or taken (EXIF date)
  within BURST_SECONDS of each other in the same folder. These are different pictures: nothing
  in a series is suggested for the trash (`Group.suggested`).

Each level groups what the level below grouped: a near group holds at least two different
contents, a similar group at least two near groups, so a burst never floods the duplicates.
Groups are the connected pieces of their level's links and are named by their smallest image id,
so they stay the same as unrelated pictures come and go.

The close pairs (cosine ≥ SIMILAR_MIN_SCORE) are stored with the pixel distances of the near
candidates and follow the change log: a new picture costs one nearest-neighbour query and the
marks of its candidates' thumbnails. The pixel thresholds were measured by
tests/benchmarks/analysis.py --parts planted on planted copies against distinct pictures of one
subject (docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from ..store import ImageRow
from ..store import analysis_tables as tables
from .pixels import Marks, marks_distance, picture_marks
from .space import VectorSpace

if TYPE_CHECKING:
    from ..photo_library import Library

NEAR_MIN_SCORE = 0.90  # CLIP cosine of near candidates
NEAR_MAX_PRINT = 9.0  # colour-print distance (RMS, 0–255) of a near pair, best-aligned crop
NEAR_MAX_BITS = 10  # difference-hash bits apart (of 64) of a near pair, same crop
SIMILAR_MIN_SCORE = 0.90
BURST_SECONDS = 3.0
CURSOR = "duplicates"
LEVELS = ("exact", "near", "similar")


@dataclass
class PairReport:
    full: bool  # every pair recomputed (first run, or the change log was pruned)
    images: int  # images whose pairs were recomputed
    pairs: int  # close pairs stored now


def update_pairs(library: "Library", model: str, checkpoint: Callable[[], None] = lambda: None) -> PairReport:
    """Bring the stored close pairs up to date with the library."""
    store = library.store
    space = VectorSpace.of(library, model)
    seq = space.index.seq
    changed = tables.changed_images(store, tables.cursor(store, CURSOR, model), seq)
    checkpoint()
    a, b, s = space.close_pairs(SIMILAR_MIN_SCORE, among=changed)
    tables.replace_pairs(store, changed, _with_pixels(library, a, b, s, checkpoint))
    images = len(space) if changed is None else len(changed)
    tables.set_cursor(store, CURSOR, model, seq)
    return PairReport(changed is None, images, tables.pair_count(store))


def _with_pixels(library: "Library", a: np.ndarray, b: np.ndarray, s: np.ndarray, checkpoint: Callable[[], None]
                 ) -> list[tuple[int, int, float, Optional[float], Optional[int]]]:
    """The pairs with the pixel distances of near candidates (None for the others)."""
    candidates = np.flatnonzero(s >= NEAR_MIN_SCORE)
    rows = library.store.images_by_ids(np.unique(np.concatenate([a[candidates], b[candidates]])).tolist())
    marks: dict[int, Optional[Marks]] = {}
    for done, image_id in enumerate(rows):
        if done % 64 == 0:
            checkpoint()
        marks[image_id] = picture_marks(rows[image_id], library.thumbnails)
    found: list[tuple[int, int, float, Optional[float], Optional[int]]] = []
    for x, y, score in zip(a.tolist(), b.tolist(), s.tolist()):
        mx, my = marks.get(x), marks.get(y)
        pixels, bits = marks_distance(mx, my) if mx is not None and my is not None else (None, None)
        found.append((x, y, score, pixels, bits))
    return found


@dataclass
class Member:
    row: ImageRow
    keep: bool = False

    def to_json(self) -> dict:
        r = self.row
        return {"path": r.path, "size": r.size, "width": r.width, "height": r.height, "taken": r.taken,
                "format": r.format, "keep": self.keep}


@dataclass
class Group:
    level: str
    id: str  # "<level>-<smallest image id>": stable while the group lasts
    members: list[Member] = field(default_factory=list)
    score: Optional[float] = None  # lowest cosine linking the group (None for exact)

    @property
    def keep(self) -> Member:
        return next(m for m in self.members if m.keep)

    def suggested(self) -> list[Member]:
        """The members suggested for the trash: every copy but the best for exact and near groups;
        none of a similar series, whose pictures differ (the user picks, picture by picture)."""
        return [] if self.level == "similar" else [m for m in self.members if not m.keep]

    def to_json(self) -> dict:
        return {"level": self.level, "id": self.id, "score": self.score,
                "members": [m.to_json() for m in self.members]}


def keep_rank(row: ImageRow) -> tuple:
    """The best to keep sorts first: most pixels, then a camera date, then the largest file, then
    the one in the library longest."""
    return (-(row.width or 0) * (row.height or 0), row.taken is None, -row.size, row.id)


class _Components:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = parent.setdefault(x, x)
        while root != parent[root]:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        for x in self.parent:
            found.setdefault(self.find(x), []).append(x)
        return found


def find_groups(library: "Library", levels: tuple[str, ...] = LEVELS) -> list[Group]:
    """The groups of the chosen levels from the stored pairs (run `update_pairs` first)."""
    store = library.store
    same_content = tables.same_content_images(store)
    a, b, s, pixels, bits = tables.pairs(store)
    # NaN (not measured) is no link.
    near_links = (s >= NEAR_MIN_SCORE) & (pixels <= NEAR_MAX_PRINT) & (bits <= NEAR_MAX_BITS)
    exact = _Components()
    for ids in same_content:
        for other in ids[1:]:
            exact.union(ids[0], other)
    near = _Components()
    for ids in same_content:
        for other in ids[1:]:
            near.union(ids[0], other)
    for x, y in zip(a[near_links].tolist(), b[near_links].tolist()):
        near.union(x, y)
    similar = _Components()
    for root, ids in near.groups().items():
        for other in ids:
            similar.union(root, other)
    for x, y in zip(a.tolist(), b.tolist()):
        similar.union(x, y)
    for x, y in tables.bursts(store, BURST_SECONDS):
        similar.union(x, y)

    found: list[tuple[str, list[int]]] = []
    if "exact" in levels:
        found += [("exact", sorted(ids)) for ids in same_content]
    if "near" in levels:
        found += [("near", sorted(ids)) for ids in near.groups().values()
                  if len({exact.find(i) for i in ids}) >= 2]
    if "similar" in levels:
        found += [("similar", sorted(ids)) for ids in similar.groups().values()
                  if len({near.find(i) for i in ids}) >= 2]
    rows = store.images_by_ids([i for _, ids in found for i in ids])
    lowest = _lowest_links(a, b, s)
    groups = []
    for level, ids in found:
        members = [Member(rows[i]) for i in ids if i in rows]
        if len(members) < 2:
            continue
        members.sort(key=lambda m: keep_rank(m.row))
        members[0].keep = True
        score = None if level == "exact" else min((lowest.get(i, 1.0) for i in ids), default=None)
        groups.append(Group(level, f"{level}-{ids[0]}", members, score))
    groups.sort(key=lambda g: (LEVELS.index(g.level), int(g.id.split("-")[1])))
    return groups


def _lowest_links(a: np.ndarray, b: np.ndarray, s: np.ndarray) -> dict[int, float]:
    """Each image's strongest link (the group's score is its weakest member's)."""
    best: dict[int, float] = {}
    for x, y, score in zip(a.tolist(), b.tolist(), s.tolist()):
        best[x] = max(best.get(x, -1.0), score)
        best[y] = max(best.get(y, -1.0), score)
    return {k: round(v, 4) for k, v in best.items()}
