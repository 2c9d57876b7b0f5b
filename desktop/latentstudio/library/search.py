"""Search: text, an example image, or both with weights; negative terms; filters; a score cut-off.

Scores are cosines between the query and each image. A negative term lowers an image's
score by how much more it resembles the negative than the library typically does, so
scores stay comparable with the cut-off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from .store import analysis_tables as tables
from .decode import DecodeError, decode_image
from .keyword_rank import PICTURE, fuse_with_words, keyword_candidates
from .file_kinds import RAW_FORMAT, VIDEO_FORMAT
from .thumbnails import moment_key
from .thumbnails import existing_thumbnail
from .query import parse_query, split_terms
from .words import keyword_query

if TYPE_CHECKING:
    from ..models.image_encoding.encoder import PictureEncoder
    from .photo_library import MomentMatrix
    from ..models.text_encoding.encoder import TextEncoder
    from .photo_library import Library
    from .vectors import VectorIndex

BASELINE_SAMPLE = 4096
RESCORE_FACTOR = 2  # approximate candidates rescored exactly per wanted hit
RESCORE_MIN = 64
NEGATIVE_OVERFETCH = 8  # candidates re-ranked on decoded codes per rescored one, with negative terms
ANN_BASELINE_SAMPLE = 1024
# The lowest cosine: a cut-off there lets every picture through, even one a negative term pushed below it.
NO_CUTOFF = -1.0
LISTED = "listed"  # SearchHit.matched of a listing: no query, the filters alone


@dataclass(frozen=True)
class SearchFilters:
    folder: Optional[Path] = None  # only images under this folder
    date_from: Optional[float] = None  # POSIX seconds, on the EXIF date (else the file's mtime)
    date_to: Optional[float] = None
    file_types: tuple[str, ...] = ()  # PIL format names: "jpeg", "png", …
    min_side: int = 0  # shorter side at least this many pixels
    tags: tuple[str, ...] = ()  # only images carrying every one of these tags
    min_rating: int = 0  # only pictures rated at least this many stars (XMP); 0: any


@dataclass(frozen=True)
class SearchRequest:
    text: Optional[str] = None
    image: Optional[Path] = None
    negative: Optional[str] = None
    text_weight: float = 1.0
    image_weight: float = 1.0
    limit: int = 50
    min_score: Optional[float] = None
    filters: SearchFilters = field(default_factory=SearchFilters)
    model_id: Optional[str] = None
    words: bool = True  # also match the words of file names and embedded text (keyword search)

    def describe(self) -> str:
        parts = []
        if self.text:
            parts.append(repr(self.text))
        if self.image:
            parts.append(f"like {Path(self.image).name}")
        return "Search " + " + ".join(parts) if parts else "List pictures"


@dataclass(frozen=True)
class SearchHit:
    path: Path
    score: float
    image_id: int
    width: Optional[int] = None
    height: Optional[int] = None
    taken: Optional[float] = None
    size: int = 0
    format: Optional[str] = None
    content_hash: Optional[str] = None
    thumbnail: Optional[Path] = None
    generated: bool = False
    prompt: Optional[str] = None
    matched: str = "picture"  # why it is a result: "picture", "words", "both"; "listed": no query
    tags: tuple[str, ...] = ()
    time: Optional[float] = None  # a video's best-matching moment, in seconds from its start
    duration: Optional[float] = None  # a video's length
    codec: Optional[str] = None  # a video's codec
    companion: Optional[Path] = None  # the file paired with it: a RAW beside its JPEG, a Live Photo's video
    rating: Optional[int] = None  # XMP stars

    @property
    def kind(self) -> str:
        """What the result is, as results say it: photo, raw, raw+jpeg, live, video or generated."""
        if self.generated:
            return "generated"
        if self.format == VIDEO_FORMAT:
            return "video"
        if self.format == RAW_FORMAT:
            return "raw"
        if self.companion is not None:
            return "live" if self.companion.suffix.lower() == ".mov" else "raw+jpeg"
        return "photo"

    def to_json(self) -> dict:
        return {
            "path": str(self.path),
            "score": round(self.score, 4),
            "width": self.width,
            "height": self.height,
            "taken": self.taken,
            "size": self.size,
            "format": self.format,
            "thumbnail": str(self.thumbnail) if self.thumbnail else None,
            "generated": self.generated,
            "prompt": self.prompt,
            "matched": self.matched,
            "tags": list(self.tags),
            "kind": self.kind,
            "time": None if self.time is None else round(self.time, 2),
            "duration": None if self.duration is None else round(self.duration, 2),
            "codec": self.codec,
            "companion": str(self.companion) if self.companion else None,
            "rating": self.rating,
        }


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def image_query_vector(library: "Library", clip: "PictureEncoder", model: str, path: Path) -> np.ndarray:
    """The stored vector when the image is in the library, else decode and encode it now."""
    row = library.store.image_by_path(os.path.abspath(path))
    if row is not None and row.hash:
        stored = library.store.vector_for_hash(row.hash, model)
        if stored is not None:
            return _unit(stored)
    try:
        decoded = decode_image(Path(path), min_side=max(clip.spec.size))
    except DecodeError as exc:
        raise ValueError(f"cannot use {Path(path).name} as an example: {exc}") from None
    return clip.encode_pixels(clip.spec.to_pixels(decoded.image)[None])[0]


def filter_mask(index: "VectorIndex", filters: SearchFilters, folder_ids: Optional[set[int]],
                chosen: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
    """Which of the index's pictures the filters let through (None: all); `chosen` is
    `chosen_ids`' answer for the filters the database answers (tags, ratings)."""
    mask: Optional[np.ndarray] = None

    def both(condition: np.ndarray) -> None:
        nonlocal mask
        mask = condition if mask is None else mask & condition

    if folder_ids is not None:
        both(np.isin(index.folder_ids, list(folder_ids)))
    if filters.date_from is not None:
        both(index.dates >= filters.date_from)
    if filters.date_to is not None:
        both(index.dates <= filters.date_to)
    if filters.file_types:
        both(index.format_mask({t.lower() for t in filters.file_types}))
    if filters.min_side:
        both(index.min_sides >= filters.min_side)
    if chosen is not None:
        both(np.isin(index.ids, chosen))
    return mask


def negative_penalty(index: "VectorIndex", vectors: list[np.ndarray]) -> np.ndarray:
    """How much more each image resembles any negative term than the library's median image."""
    penalty = np.zeros(len(index), dtype=np.float32)
    step = max(1, len(index) // BASELINE_SAMPLE)
    for vector in vectors:
        scores = index.scores(vector)
        baseline = float(np.median(scores[::step]))
        penalty = np.maximum(penalty, scores - baseline)
    return penalty


def exact_top(
    index: "VectorIndex", query: np.ndarray, negatives: list[np.ndarray], mask: Optional[np.ndarray],
    limit: int, min_score: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(column positions, scores) of the best `limit` images at or above `min_score`, best first,
    scoring every image."""
    scores = index.scores(query)
    if negatives:
        scores = scores - negative_penalty(index, negatives)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    candidates = np.flatnonzero(_passes(scores, min_score))
    if len(candidates) > limit:
        top = np.argpartition(-scores[candidates], limit - 1)[:limit]
        candidates = candidates[top]
    candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
    return candidates, scores[candidates]


def approximate_top(
    library: "Library", index: "VectorIndex", query: np.ndarray, negatives: list[np.ndarray],
    mask: Optional[np.ndarray], limit: int, min_score: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Like `exact_top`, from the approximate index. Filters restrict the search itself; an
    over-fetched candidate list is rescored exactly from the stored vectors (8-bit codes cannot
    order near-duplicates). Negative terms need a longer list: it is first re-ranked on the
    decoded codes, and only its head is rescored exactly."""
    assert index.ann is not None
    allowed = None
    available = len(index)
    if mask is not None:
        available = int(mask.sum())
        if not available:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        allowed = np.zeros(int(index.ids[-1]) + 1, dtype=bool)
        allowed[index.ids[mask]] = True
    rescored = max(RESCORE_MIN, limit * RESCORE_FACTOR)
    wanted = min(available, rescored * NEGATIVE_OVERFETCH if negatives else rescored)
    _, ids = index.ann.search(query, wanted, allowed)
    if len(ids) < wanted:  # a narrow filter: the clusters near the query held too few of its images
        _, ids = index.ann.search(query, wanted, allowed, exhaustive=True)
    baselines: list[float] = []
    if negatives:
        # An evenly spread sample like `negative_penalty`'s, decoded from the 8-bit codes (smaller:
        # decoding costs more than scoring a matrix row).
        sample = index.ann.vectors(index.ids[:: max(1, len(index) // ANN_BASELINE_SAMPLE)])
        baselines = [float(np.median(sample @ negative)) for negative in negatives]
        decoded = index.ann.vectors(ids)
        rough = decoded @ query - _penalty(decoded, negatives, baselines)
        ids = ids[np.argsort(-rough, kind="stable")[:rescored]]
    ids, vectors = index.stored_vectors(library.store.connection(), ids)
    scores = vectors @ query
    if negatives:
        scores = scores - _penalty(vectors, negatives, baselines)
    order = np.argsort(-scores, kind="stable")
    order = order[_passes(scores[order], min_score)][:limit]
    return index.positions(ids[order]), scores[order]


def _passes(scores: np.ndarray, min_score: float) -> np.ndarray:
    """Scores at or above the cut-off; with no cut-off, every score of a picture the filters keep."""
    return scores > -np.inf if min_score <= NO_CUTOFF else scores >= min_score


def _penalty(vectors: np.ndarray, negatives: list[np.ndarray], baselines: list[float]) -> np.ndarray:
    penalty = np.zeros(len(vectors), dtype=np.float32)
    for negative, baseline in zip(negatives, baselines):
        penalty = np.maximum(penalty, vectors @ negative - baseline)
    return penalty


def rank(
    library: "Library",
    index: "VectorIndex",
    query: np.ndarray,
    negatives: list[np.ndarray],
    request: SearchRequest,
    min_score: float,
) -> list[SearchHit]:
    if not len(index):
        return []
    if index.dim != query.shape[0]:
        raise ValueError(
            f"the library's vectors for model {index.model!r} have {index.dim} dimensions but the model "
            f"gives {query.shape[0]}: it was replaced by a different model under the same id; "
            "import it under a new id and index again"
        )
    folder_ids = None
    if request.filters.folder is not None:
        folder_ids = library.folder_ids_under(request.filters.folder)
    limit = max(1, request.limit)
    keywords = keyword_query(request.text, split_terms(request.negative)) if request.words else None
    # The files' words are read on their own thread while the pictures are searched here.
    pending = (library.words_worker().submit(keyword_candidates, library.store, keywords)
               if keywords is not None else None)
    chosen = chosen_ids(library.store, request.filters)
    moments = library.moments(index.model)
    with index.lock:  # the index may be catching up with the database on another thread
        mask = filter_mask(index, request.filters, folder_ids, chosen)
        video_mask: Optional[np.ndarray] = None
        if len(moments.ids):  # videos compete by their best moment, not by their mean
            videos = index.format_mask({VIDEO_FORMAT})
            video_mask = videos if mask is None else mask & videos
            mask = ~videos if mask is None else mask & ~videos
        if index.ann is not None:
            candidates, scores = approximate_top(library, index, query, negatives, mask, limit, min_score)
        else:
            candidates, scores = exact_top(index, query, negatives, mask, limit, min_score)
        image_ids = [int(index.ids[i]) for i in candidates]
        times: dict[int, float] = {}
        if video_mask is not None and video_mask.any():
            image_ids, scores, times = _with_best_moments(
                moments, set(index.ids[video_mask].tolist()), query, negatives, image_ids,
                np.asarray(scores, dtype=np.float32), limit, min_score)
        matched = [PICTURE] * len(image_ids)
        words = pending.result() if pending is not None else None
        if words is not None and not words.ids and keywords.phrases is None and keywords.excluded is None:
            words = None  # no file's words match: the picture search alone
        if keywords is not None and words is not None:
            image_ids, scores, matched = fuse_with_words(
                library.store, index, query, keywords, words, image_ids, [float(s) for s in scores],
                mask if video_mask is None else mask | video_mask, limit
            )
    return hits_for(library, image_ids, scores, matched, times)


def _with_best_moments(
    moments: "MomentMatrix", allowed: set[int], query: np.ndarray, negatives: list[np.ndarray],
    image_ids: list[int], scores: np.ndarray, limit: int, min_score: float,
) -> tuple[list[int], np.ndarray, dict[int, float]]:
    """The picture results with the videos the filters let through, each scored by its best
    moment; (image ids, scores, best moment's time per video), best first, at most `limit`."""
    keep = np.isin(moments.ids, list(allowed))
    ids, times, matrix = moments.ids[keep], moments.times[keep], moments.matrix[keep]
    if not len(ids):
        return image_ids, scores, {}
    moment_scores = matrix @ query
    for negative in negatives:  # as negative_penalty: against the moments' typical resemblance
        resemblance = matrix @ negative
        moment_scores -= np.maximum(0.0, resemblance - float(np.median(resemblance)))
    order = np.lexsort((-moment_scores, ids))  # by video, its best moment first
    first = np.ones(len(order), dtype=bool)
    first[1:] = ids[order][1:] != ids[order][:-1]
    best = order[first]
    best = best[_passes(moment_scores[best], min_score)]
    merged = list(zip(scores.tolist(), image_ids)) + list(zip(moment_scores[best].tolist(), ids[best].tolist()))
    merged.sort(key=lambda pair: -pair[0])
    merged = merged[:limit]
    best_time = {int(i): float(t) for i, t in zip(ids[best], times[best])}
    chosen = [int(i) for _, i in merged]
    return chosen, np.array([s for s, _ in merged], dtype=np.float32), {i: best_time[i] for i in chosen if i in best_time}


def tag_listing(library: "Library", index: "VectorIndex", request: SearchRequest) -> list[SearchHit]:
    """A search by tags alone: every picture carrying them (and passing the other filters), by
    how clearly it carries the first tag."""
    folder_ids = library.folder_ids_under(request.filters.folder) if request.filters.folder is not None else None
    store = library.store
    ranked = tables.tagged_images(store, tables.tag_by_label(store, request.filters.tags[0]).id)
    with index.lock:
        mask = filter_mask(index, request.filters, folder_ids, chosen_ids(store, request.filters))
        allowed = set(index.ids[mask].tolist()) if mask is not None else set()
    chosen = [(i, s) for i, s in ranked if i in allowed][: max(1, request.limit)]
    return hits_for(library, [i for i, _ in chosen], [s for _, s in chosen])


def listing(library: "Library", index: "VectorIndex", request: SearchRequest) -> list[SearchHit]:
    """A search with no words, example or tags: the pictures passing the filters (a folder, dates,
    a type, a size), newest first (taken, else changed), to browse a folder without a query."""
    folder_ids = library.folder_ids_under(request.filters.folder) if request.filters.folder is not None else None
    chosen = chosen_ids(library.store, request.filters)
    with index.lock:
        mask = filter_mask(index, request.filters, folder_ids, chosen)
        positions = np.flatnonzero(mask) if mask is not None else np.arange(len(index))
        newest = positions[np.argsort(-index.dates[positions], kind="stable")][: max(1, request.limit)]
        image_ids = [int(i) for i in index.ids[newest]]
    return hits_for(library, image_ids, [0.0] * len(image_ids), [LISTED] * len(image_ids))


def pictures_passing(library: "Library", model: str, filters: SearchFilters) -> int:
    """How many searchable pictures the filters let through, at any score: when a search finds
    nothing, 0 says the filters left nothing, not the score cut-off. Reads the vectors: not on
    the GUI thread."""
    index = library.vector_index(model)
    folder_ids = library.folder_ids_under(filters.folder) if filters.folder is not None else None
    chosen = chosen_ids(library.store, filters)
    with index.lock:
        mask = filter_mask(index, filters, folder_ids, chosen)
        return len(index) if mask is None else int(mask.sum())


def chosen_ids(store, filters: SearchFilters) -> Optional[np.ndarray]:
    """Ids of the images carrying the filters' tags and rated as they ask (None: no such filter)."""
    found: Optional[set[int]] = None
    if filters.tags:
        found = set(images_with_tags(store, filters.tags).tolist())
    if filters.min_rating > 0:
        rated = store.rated_at_least(filters.min_rating)
        found = rated if found is None else found & rated
    return None if found is None else np.array(sorted(found), dtype=np.int64)


def images_with_tags(store, labels: Sequence[str]) -> np.ndarray:
    """Ids of the images carrying every one of these tags (ValueError for an unknown tag)."""
    found: Optional[set[int]] = None
    for label in labels:
        ids = {i for i, _ in tables.tagged_images(store, tables.tag_by_label(store, label).id)}
        found = ids if found is None else found & ids
    return np.array(sorted(found or ()), dtype=np.int64)


def hits_for(library: "Library", image_ids: Sequence[int], scores: Sequence[float],
             matched: Optional[Sequence[str]] = None, times: Optional[dict[int, float]] = None) -> list[SearchHit]:
    """Search hits for these images, in this order, with what results show about each (and why
    each matched: picture, words or both; a tag listing matches by picture); a video found by a
    moment shows that moment (`times`)."""
    times = times or {}
    matched = matched if matched is not None else [PICTURE] * len(image_ids)
    rows = library.store.images_by_ids(image_ids)
    tags = tables.tags_of_images(library.store, list(image_ids))
    hits = []
    for image_id, score, why in zip(image_ids, scores, matched):
        row = rows.get(image_id)
        if row is None:
            continue
        hits.append(
            SearchHit(
                path=Path(row.path),
                score=float(score),
                image_id=row.id,
                width=row.width,
                height=row.height,
                taken=row.taken,
                size=row.size,
                format=row.format,
                content_hash=row.hash,
                thumbnail=_thumbnail(library, row.hash, times.get(row.id)),
                generated=row.generated,
                prompt=row.prompt,
                matched=why,
                tags=tuple(tags.get(row.id, ())),
                time=times.get(row.id),
                duration=row.duration,
                codec=row.codec,
                companion=Path(row.companion) if row.companion else None,
                rating=row.rating,
            )
        )
    return hits


def _thumbnail(library: "Library", content_hash: Optional[str], time: Optional[float]) -> Optional[Path]:
    """The picture a result shows: a video's matching moment, else the file's own thumbnail."""
    if content_hash and time is not None:
        moment = existing_thumbnail(library.thumbnails, moment_key(content_hash, time))
        if moment is not None:
            return moment
    return existing_thumbnail(library.thumbnails, content_hash)


def build_query(
    library: "Library", text: "TextEncoder", pictures: Optional["PictureEncoder"], model: str, request: SearchRequest
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(unit query vector, negative term vectors) for a request; ValueError when it asks nothing.
    An example image needs a picture encoder; words alone do not."""
    positive, negative_terms = parse_query(request.text or "")
    negative_terms += split_terms(request.negative)
    parts: list[np.ndarray] = []
    texts = ([positive] if positive else []) + negative_terms
    encoded = text.encode_text(texts) if texts else np.empty((0, 0), dtype=np.float32)
    if positive:
        parts.append(request.text_weight * encoded[0])
    if request.image is not None:
        assert pictures is not None, "an example image needs a picture encoder"
        parts.append(request.image_weight * image_query_vector(library, pictures, model, Path(request.image)))
    if not parts:
        raise ValueError("nothing to search for: give some words or an example image")
    query = _unit(np.sum(parts, axis=0).astype(np.float32))
    negatives = [encoded[i] for i in range(1 if positive else 0, len(texts))]
    return query, negatives
