"""Tags in words: zero-shot classification of every image by the user's own labels.

A label's text vector is the mean over CLIP's seven selected prompt templates (the CLIP notebook's
ensemble, better than all 80). Its score on an image is a margin: similarity to the label minus
similarity to a background set (the same templates over generic words), which cancels what the
templates and the image have in common with any text. Example pictures, and the pictures the
user confirmed or rejected, add closeness to the positives' mean and take away closeness to the
negatives' mean. Each part is standardised over the library (z-scores) and weighed (pictures by
n / (n + 2): a few examples nudge, many lead); the sum is the tag's score.

The threshold is calibrated per tag on the library's own score distribution: the cut between two
classes, "has it" and "has it not", of a two-normal mixture fitted to the scores (`split_point`),
kept so the tag lands on at least MIN_SHARE and at most MAX_SHARE of the pictures (neither nowhere
nor everywhere), then shifted by the user's adjustment; no adjustment takes a tag past MAX_SHARE
(the calibration's "floor": just above the score of the picture one past the cap, so ties at the
cut cannot carry it over either). A tag group assigns at most one member per
image: the member with the highest score, when that is above the library's average for it (z > 0,
plus the adjustment): the best member decides which, the cut only keeps off pictures showing none.
Marks win over scores: a confirmed tag stays, a rejected one stays off.

Incremental: calibration (the standardisation and the threshold) is stored with the tag, so
images the change log names are scored alone; a tag is recalibrated on the whole library only
when it is new or changed (examples, marks, adjustment), or the library grew or shrank a lot.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Sequence

import numpy as np

from ...models.catalogue import resources_dir
from ..store import analysis_tables as tables
from .space import VectorSpace
from ..store.analysis_tables import CONFIRMED, REJECTED, Tag

if TYPE_CHECKING:
    from ..photo_library import Library

log = logging.getLogger(__name__)

TEMPLATES = (
    "itap of a {}.",
    "a bad photo of the {}.",
    "a origami {}.",
    "a photo of the large {}.",
    "a {} in a video game.",
    "art of the {}.",
    "a photo of the small {}.",
)
BACKGROUND = ("thing", "object", "scene", "picture", "something")
MIN_SHARE = 0.002
MAX_SHARE = 0.5
RECALIBRATE_GROWTH = 2.0  # recalibrate when the library is this many times larger (or smaller)
SPLIT_SAMPLE = 5_000  # scores the threshold is fitted on: evenly spread over the sorted scores (quantiles)
MIN_CLASS = 3  # pictures on each side of a cut at least
EM_STEPS = 60
SEPARATED = 2.0  # Ashman's D of the two classes at least, else the scores form one class
UNSEPARATED_CUT = 2.0  # z-score a tag on its own needs when its scores form one class
GROUP_CUT = 0.0  # z-score a group's best member needs
HISTOGRAM_BINS = 256
CHUNK_ROWS = 50_000
CURSOR = "tags"
CALIBRATION_FORMAT = 2  # 2: the cap's floor
EXAMPLE_PRIOR = 2.0  # pictures that weigh as much as the words
SUGGESTED_TAGS = "suggested-tags.json"

TextEncoder = Callable[[Sequence[str]], np.ndarray]  # texts → unit float32 vectors


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def label_vectors(encode: TextEncoder, labels: Sequence[str]) -> np.ndarray:
    """One unit vector per label: the mean of its template prompts' encodings."""
    if not labels:
        return np.empty((0, 0), dtype=np.float32)
    prompts = [template.format(label) for label in labels for template in TEMPLATES]
    encoded = encode(prompts).reshape(len(labels), len(TEMPLATES), -1)
    return _unit(encoded.mean(axis=1)).astype(np.float32)


@dataclass
class Prototype:
    """What one tag is scored against: its text vector and, when it has any, example pictures."""

    tag: Tag
    text: np.ndarray
    positive: Optional[np.ndarray]  # unit mean of example and confirmed pictures
    negative: Optional[np.ndarray]  # unit mean of rejected pictures
    positives: int = 0
    negatives: int = 0

    def raw(self, vectors: np.ndarray, background: np.ndarray) -> np.ndarray:
        """(parts, n): the text margin, then closeness to the positives and to the negatives
        where the tag has them."""
        parts = [vectors @ self.text - vectors @ background]
        if self.positive is not None:
            parts.append(vectors @ self.positive)
        if self.negative is not None:
            parts.append(vectors @ self.negative)
        return np.stack(parts).astype(np.float32, copy=False)

    def weights(self) -> np.ndarray:
        """Text counts fully; pictures more as there are more of them (n / (n + EXAMPLE_PRIOR)),
        so one rejected picture nudges a tag instead of turning it around."""
        weights = [1.0]
        if self.positive is not None:
            weights.append(self.positives / (self.positives + EXAMPLE_PRIOR))
        if self.negative is not None:
            weights.append(-self.negatives / (self.negatives + EXAMPLE_PRIOR))
        return np.array(weights, dtype=np.float32)

    def score(self, vectors: np.ndarray, background: np.ndarray, calibration: dict) -> np.ndarray:
        return self.combine(self.raw(vectors, background), calibration)

    def combine(self, raw: np.ndarray, calibration: dict) -> np.ndarray:
        mean = np.array(calibration["mean"], dtype=np.float32)[:, None]
        sd = np.array(calibration["sd"], dtype=np.float32)[:, None]
        return (self.weights()[:, None] * (raw - mean) / sd).sum(axis=0).astype(np.float32)


def prototypes(library: "Library", model: str, tag_list: Sequence[Tag], encode: TextEncoder) -> list[Prototype]:
    texts = label_vectors(encode, [t.label for t in tag_list])
    found = []
    for tag, text in zip(tag_list, texts):
        positives = [v for v in (tables.example_vectors(library.store, tag.id, model),
                                 tables.marked_vectors(library.store, tag.id, model, CONFIRMED)) if v.size]
        negatives = tables.marked_vectors(library.store, tag.id, model, REJECTED)
        positive = _unit(np.concatenate(positives).mean(axis=0)) if positives else None
        negative = _unit(negatives.mean(axis=0)) if negatives.size else None
        found.append(Prototype(tag, text, positive, negative, sum(len(v) for v in positives), len(negatives)))
    return found


def split_point(values: np.ndarray) -> float:
    """The threshold between two classes of scores, "has it" and "has it not", of any sizes and
    spreads: a two-component normal mixture fitted by EM from Otsu's split, cut where a score is
    as likely to belong to either. Otsu's cut alone assumes classes of like size and lands inside
    the larger one when a tag is rare."""
    values = np.sort(np.asarray(values, dtype=np.float64))
    if len(values) > SPLIT_SAMPLE:
        values = values[np.linspace(0, len(values) - 1, SPLIT_SAMPLE).astype(np.int64)]
    start = otsu(values)
    high = values > start
    if high.sum() < MIN_CLASS or (~high).sum() < MIN_CLASS:
        return start
    floor = 1e-3 * float(values.std()) + 1e-9
    weight = np.array([(~high).mean(), high.mean()])
    mean = np.array([values[~high].mean(), values[high].mean()])
    sd = np.maximum(np.array([values[~high].std(), values[high].std()]), floor)
    for _ in range(EM_STEPS):
        density = weight * np.exp(-0.5 * ((values[:, None] - mean) / sd) ** 2) / sd
        member = density / np.maximum(density.sum(axis=1, keepdims=True), 1e-300)
        mass = member.sum(axis=0)
        if np.any(mass < MIN_CLASS):
            return start
        weight = mass / len(values)
        mean = (member * values[:, None]).sum(axis=0) / mass
        sd = np.maximum(np.sqrt((member * (values[:, None] - mean) ** 2).sum(axis=0) / mass), floor)
    lo, hi = np.argsort(mean)
    if np.sqrt(2) * (mean[hi] - mean[lo]) / np.hypot(sd[lo], sd[hi]) < SEPARATED:
        return UNSEPARATED_CUT  # one class only (Ashman's D): just the clearly outstanding pictures
    grid = np.linspace(mean[lo], mean[hi], 512)
    log_odds = (np.log(weight[hi] / sd[hi]) - 0.5 * ((grid - mean[hi]) / sd[hi]) ** 2
                - np.log(weight[lo] / sd[lo]) + 0.5 * ((grid - mean[lo]) / sd[lo]) ** 2)
    crossing = np.flatnonzero(log_odds >= 0)
    return float(grid[crossing[0]]) if len(crossing) else start


def otsu(values: np.ndarray) -> float:
    """The cut that maximises the between-class variance of the histogram."""
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts).astype(np.float64)
    total = weight[-1]
    mass = np.cumsum(counts * centres)
    below, above = weight[:-1], total - weight[:-1]
    valid = (below > 0) & (above > 0)
    if not valid.any():
        return float(np.median(values))
    mean_below = mass[:-1] / np.where(below > 0, below, 1)
    mean_above = (mass[-1] - mass[:-1]) / np.where(above > 0, above, 1)
    between = np.where(valid, below * above * (mean_below - mean_above) ** 2, -1)
    return float(edges[1:-1][int(np.argmax(between))])


def calibrate(prototype: Prototype, raw: np.ndarray, model: str) -> dict:
    """Standardisation and threshold of one tag from its raw scores on the whole library."""
    calibration = {
        "format": CALIBRATION_FORMAT,
        "model": model,
        "rows": raw.shape[1],
        "mean": raw.mean(axis=1).tolist(),
        "sd": [float(v) or 1.0 for v in raw.std(axis=1)],
    }
    z = prototype.combine(raw, calibration)
    if prototype.tag.group:
        # The group's best member wins; its cut only keeps off pictures that show none of the
        # members: above the library's average score for it.
        calibration["threshold"] = GROUP_CUT
        return calibration
    ordered = np.sort(z)[::-1]
    most = int(MAX_SHARE * len(ordered))  # pictures the tag may land on at most (rounded down)
    least = max(1, int(np.ceil(MIN_SHARE * len(ordered))))
    # Scores are compared as float32: the floor is the next float32 above the score of the first
    # picture past the cap, so it and every tie with it stay off.
    floor = float(np.nextafter(np.float32(ordered[most]), np.float32(np.inf)))
    calibration["floor"] = floor
    calibration["threshold"] = max(min(split_point(z), float(ordered[least - 1])), floor)
    return calibration


def needs_calibration(tag: Tag, model: str, rows: int) -> bool:
    c = tag.calibration
    if c is None or c.get("format") != CALIBRATION_FORMAT or c.get("model") != model:
        return True
    grown = max(rows, 1) / max(c.get("rows", 1), 1)
    return grown >= RECALIBRATE_GROWTH or grown <= 1 / RECALIBRATE_GROWTH


def assign(
    ids: np.ndarray, scores: np.ndarray, tag_list: Sequence[Tag], calibrations: Sequence[dict],
    marked: dict[tuple[int, int], int],
) -> list[tuple[int, int, float]]:
    """(tag id, image id, score above threshold) for every assignment among these images (ids
    ascending). `scores` is (images, tags). Groups keep their best member; marks override."""
    cuts = [max(c["threshold"] + t.adjust, c.get("floor", -np.inf)) for t, c in zip(tag_list, calibrations)]
    above = scores - np.array(cuts, dtype=np.float32)
    on = above >= 0
    tag_ids = np.array([t.id for t in tag_list], dtype=np.int64)
    confirmed = np.zeros_like(on)
    for (tag_id, image_id), verdict in marked.items():
        row = int(np.searchsorted(ids, image_id)) if len(ids) else 0
        col = np.flatnonzero(tag_ids == tag_id)
        if row >= len(ids) or ids[row] != image_id or not len(col):
            continue
        on[row, col[0]] = verdict == CONFIRMED
        confirmed[row, col[0]] = verdict == CONFIRMED
    groups: dict[str, list[int]] = {}
    for col, tag in enumerate(tag_list):
        if tag.group:
            groups.setdefault(tag.group, []).append(col)
    for cols in groups.values():
        if len(cols) < 2:
            continue
        # A confirmed member wins; otherwise the member furthest above its threshold.
        rank = np.where(on[:, cols], above[:, cols], -np.inf) + np.where(confirmed[:, cols], np.inf, 0)
        best = np.argmax(rank, axis=1)
        keep = np.zeros((len(ids), len(cols)), dtype=bool)
        keep[np.arange(len(ids)), best] = True
        on[:, cols] &= keep
    rows, cols = np.nonzero(on)
    return [(int(tag_ids[c]), int(ids[r]), float(above[r, c])) for r, c in zip(rows, cols)]


@dataclass
class TagReport:
    calibrated: list[str]  # tags scored on the whole library
    images_scored: int  # images scored for the others (the change log's)
    assignments: int


def update_tags(library: "Library", model: str, encode: TextEncoder,
                checkpoint: Callable[[], None] = lambda: None) -> TagReport:
    """Bring every tag's assignments up to date with the library (see the module docstring)."""
    store = library.store
    tag_list = tables.tags(store)
    space = VectorSpace.of(library, model)
    seq = space.index.seq
    if not tag_list or not len(space):
        tables.set_cursor(store, CURSOR, model, seq)
        return TagReport([], 0, 0)
    changed = tables.changed_images(store, tables.cursor(store, CURSOR, model), seq)
    background = label_vectors(encode, BACKGROUND).mean(axis=0)
    protos = prototypes(library, model, tag_list, encode)
    stale = {t.group for t in tag_list if t.group and needs_calibration(t, model, len(space))}
    full = [changed is None or needs_calibration(t, model, len(space)) or (t.group in stale)
            for t in tag_list]
    calibrations = [t.calibration for t in tag_list]
    marked = tables.marks(store)
    full_cols = [i for i, f in enumerate(full) if f]
    rest_cols = [i for i, f in enumerate(full) if not f]
    written = 0
    if full_cols:
        # One pass over the vectors for every tag to recalibrate; the raw scores are kept (4 bytes
        # a picture, tag and part: 80 MB for 20 tags over 1M pictures) for thresholds and assignment.
        ids_parts, raw_parts = [], []
        for ids, vectors in space.chunks(CHUNK_ROWS):
            checkpoint()
            ids_parts.append(ids)
            raw_parts.append([protos[c].raw(vectors, background) for c in full_cols])
        ids = np.concatenate(ids_parts)
        raw = [np.concatenate([part[k] for part in raw_parts], axis=1) for k in range(len(full_cols))]
        del raw_parts
        for k, c in enumerate(full_cols):
            checkpoint()
            calibrations[c] = calibrate(protos[c], raw[k], model)
            tables.save_calibration(store, tag_list[c].id, calibrations[c])
        chosen, chosen_calibrations = [tag_list[c] for c in full_cols], [calibrations[c] for c in full_cols]

        def assigned():  # chunk by chunk, straight into the database
            for start in range(0, len(ids), CHUNK_ROWS):
                scores = np.stack([protos[c].combine(raw[k][:, start:start + CHUNK_ROWS], calibrations[c])
                                   for k, c in enumerate(full_cols)], axis=1)
                yield from assign(ids[start:start + CHUNK_ROWS], scores, chosen, chosen_calibrations, marked)

        written += tables.replace_assignments(store, [t.id for t in chosen], None, assigned())
    scored = 0
    if rest_cols and changed is not None and len(changed):
        rows = []
        for start in range(0, len(changed), CHUNK_ROWS):
            checkpoint()
            ids, vectors = space.vectors(changed[start:start + CHUNK_ROWS])
            scored += len(ids)
            rows += _assign_chunk(ids, vectors, protos, calibrations, rest_cols, background, marked)
        # Images no longer indexed lose their tags too.
        written += tables.replace_assignments(store, [tag_list[i].id for i in rest_cols], changed, rows)
    tables.set_cursor(store, CURSOR, model, seq)
    return TagReport([tag_list[i].label for i in full_cols], scored, written)


def _assign_chunk(ids: np.ndarray, vectors: np.ndarray, protos: Sequence[Prototype], calibrations: Sequence[dict],
                  cols: Sequence[int], background: np.ndarray, marked: dict) -> list[tuple[int, int, float]]:
    scores = np.stack([protos[c].score(vectors, background, calibrations[c]) for c in cols], axis=1)
    return assign(ids, scores, [protos[c].tag for c in cols], [calibrations[c] for c in cols], marked)


def suggested_tags() -> list[tuple[str, Optional[str]]]:
    """The bundled first set of tags, as (label, group): offered, never added on their own."""
    data = json.loads((resources_dir() / SUGGESTED_TAGS).read_text(encoding="utf-8"))
    found: list[tuple[str, Optional[str]]] = [(label, None) for label in data.get("tags", [])]
    for group, labels in data.get("groups", {}).items():
        found += [(label, group) for label in labels]
    return found
