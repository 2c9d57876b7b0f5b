"""Picture and words together: a weighted sum of the CLIP and keyword scores, each min-max
normalised over its own candidate list (a list whose scores are all equal counts 1).

An image on both lists rises above one on either, which is what "what the picture shows and
what its file says" asks for. The method and WORDS_WEIGHT were chosen on a labelled set
(tests/test_search_words.py; figures in docs/benchmarks.md): the weighted sum at 0.5-0.7 beat
reciprocal rank fusion (k = 10, 60, words weighted 1.5 or 3), pictures alone and words alone;
0.6 sits inside that plateau and lets a file whose name says the query outrank a picture
that merely resembles it. A "quoted phrase" keeps only images whose words hold it; a negative
term leaves out images whose words hold it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np

from .words import KeywordQuery

if TYPE_CHECKING:
    from .store import LibraryStore
    from .vectors import VectorIndex

WORDS_WEIGHT = 0.6
FUSION_DEPTH = 100  # candidates taken from each list
# A word in more files than this says little about any of them (bm25 gives it almost no weight)
# and ranking all its files costs about a microsecond each: it is left out of the ranked query,
# like a stopword. When every word of a query is that common, files holding all of them are
# taken unranked. Chosen with tests/benchmarks/search_words.py.
COMMON_MATCHES = 500
PICTURE, WORDS, BOTH = "picture", "words", "both"


def _normalised(pairs: list[tuple[int, float]]) -> dict[int, float]:
    if not pairs:
        return {}
    values = np.array([score for _, score in pairs], dtype=np.float64)
    low, span = float(values.min()), float(values.max() - values.min())
    return {image_id: (score - low) / span if span else 1.0 for image_id, score in pairs}


def weighted_order(
    pictures: list[tuple[int, float]], words: list[tuple[int, float]], words_weight: float = WORDS_WEIGHT
) -> list[int]:
    """Ids of both lists by (1 - w) x normalised cosine + w x normalised keyword score."""
    a, b = _normalised(pictures), _normalised(words)
    fused = {i: (1 - words_weight) * a.get(i, 0.0) + words_weight * b.get(i, 0.0) for i in {**a, **b}}
    return sorted(fused, key=lambda i: -fused[i])


def keyword_candidates(store: "LibraryStore", keywords: KeywordQuery, limit: int) -> list[tuple[int, float]]:
    """(image id, keyword score) of the files whose words match the query, best first."""
    counts = {t: store.keyword_count(t, COMMON_MATCHES + 1) for t in keywords.terms}
    rare = [t for t in keywords.terms if 0 < counts[t] <= COMMON_MATCHES]
    if rare:
        return store.keyword_ranked(" OR ".join(rare), limit, keywords.phrases, keywords.excluded)
    every = [t for t in keywords.terms if counts[t]] + ([keywords.phrases] if keywords.phrases else [])
    if not every:
        return []
    return [(i, 1.0) for i in store.keyword_unranked(" AND ".join(every), limit, keywords.excluded)]


def fuse_with_words(
    store: "LibraryStore",
    index: "VectorIndex",
    query: np.ndarray,
    keywords: KeywordQuery,
    ranked: list[tuple[int, float]],
    clip_ids: list[int],
    clip_scores: list[float],
    mask: Optional[np.ndarray],
    limit: int,
) -> tuple[list[int], list[float], list[str]]:
    """(image ids, cosine scores, why each matched) of the fused ranking, best first, from the
    picture list and the keyword list (`ranked`, from keyword_candidates).

    Keyword hits count only when the image is searchable (in the index) and passes the
    filters; their score is still the picture's cosine (from the approximate index's codes when
    there is one), so scores mean one thing throughout.
    """
    if keywords.phrases is not None or keywords.excluded is not None:
        # A phrase must be in the words; a negative term's words must not.
        allowed = set(clip_ids) if keywords.phrases is None else store.keyword_subset(keywords.phrases, clip_ids)
        if keywords.excluded is not None:
            allowed -= store.keyword_subset(keywords.excluded, clip_ids)
        kept = [(i, s) for i, s in zip(clip_ids, clip_scores) if i in allowed]
        clip_ids, clip_scores = [i for i, _ in kept], [s for _, s in kept]
    found = np.array([image_id for image_id, _ in ranked], dtype=np.int64)
    words: list[tuple[int, float]] = []
    if len(found) and len(index):
        positions = np.minimum(index.positions(found), len(index) - 1)
        present = index.ids[positions] == found
        if mask is not None:
            present &= mask[positions]
        words = [pair for pair, keep in zip(ranked, present.tolist()) if keep][:FUSION_DEPTH]
    order = weighted_order(list(zip(clip_ids, clip_scores)), words)[:limit]
    known = dict(zip(clip_ids, clip_scores))
    missing = np.array([i for i in order if i not in known], dtype=np.int64)
    if len(missing):  # words-only hits: their cosine from the index itself (8-bit codes when approximate)
        if index.ann is not None:
            vectors = index.ann.vectors(missing)
        else:
            vectors = index.matrix[index.positions(missing)].astype(np.float32)
        known.update(zip(missing.tolist(), (vectors @ query).tolist()))
    order = [i for i in order if i in known]
    in_clip, in_words = set(clip_ids), {image_id for image_id, _ in words}
    why = [BOTH if i in in_clip and i in in_words else PICTURE if i in in_clip else WORDS for i in order]
    return order, [float(known[i]) for i in order], why
