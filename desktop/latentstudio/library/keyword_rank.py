"""Picture and words together: a weighted sum of the picture's score and the file's words.

The picture side is the CLIP cosine, min-max normalised over the picture search's candidates
(a word match the picture search did not return is placed on the same scale, at 0 below it).
The words side is the share of the query's words that the file's words hold (name, prompt,
description), the same for every file that holds them: a long prompt or description does not
weaken a match (bm25 did; with min-max normalisation the weakest word match got no bonus at all
and sank below every picture-only match). So a file holding the query's words always ranks above
a picture-only match of the same picture score, and equal scores are ordered by cosine.

The method and WORDS_WEIGHT were chosen on a labelled set (tests/test_search_words.py; figures
in docs/benchmarks.md): the weighted sum at 0.5-0.7 beat reciprocal rank fusion (k = 10, 60,
words weighted 1.5 or 3), pictures alone and words alone; 0.6 sits inside that plateau and lets
a file whose words say the query outrank a picture that merely resembles it. A "quoted phrase"
keeps only images whose words hold it; a negative term leaves out images whose words hold it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

from .words import KeywordQuery

if TYPE_CHECKING:
    from .store import LibraryStore
    from .vectors import VectorIndex

WORDS_WEIGHT = 0.6
# A word in more files than this says little about any of them, and placing all its files on the
# picture scale costs time per file: it is left out of the candidates and the shares, like a
# stopword. When every word of a query is that common, up to this many files holding all of them
# are taken. Chosen with tests/benchmarks/search_words.py.
COMMON_MATCHES = 500
PICTURE, WORDS, BOTH = "picture", "words", "both"


def weighted_order(
    pictures: list[tuple[int, float]],
    words: dict[int, float],
    words_weight: float = WORDS_WEIGHT,
    cosines: Optional[dict[int, float]] = None,
) -> list[int]:
    """Ids by (1 - w) x normalised cosine + w x words score, ties by cosine.

    `pictures`: (id, cosine) from the picture search; `words`: id → share of the query's words
    its file holds (`WordMatches.shares`); `cosines`: the cosine of word matches not in `pictures`.
    """
    known = dict(pictures)
    low = min(known.values(), default=0.0)
    span = max(known.values(), default=0.0) - low
    every = {**(cosines or {}), **known}

    def picture(i: int) -> float:
        if i not in every:
            return 0.0
        if not span:
            return 1.0 if every[i] >= low else 0.0
        return min(1.0, max(0.0, (every[i] - low) / span))

    fused = {i: (1 - words_weight) * picture(i) + words_weight * words.get(i, 0.0) for i in {**known, **words}}
    return sorted(fused, key=lambda i: (-fused[i], -every.get(i, -np.inf)))


@dataclass(frozen=True)
class WordMatches:
    ids: list[int]  # the files whose words match the query, to rank beside the pictures
    shares: dict[int, float]  # image id → share of the query's words its file holds (those holding any)


def keyword_candidates(store: "LibraryStore", keywords: KeywordQuery) -> WordMatches:
    """The files whose words match the query, and how much of it each holds.

    A word in more than COMMON_MATCHES files says little about any of them: like a stopword, it
    is left out of the share (and of the candidates) when the query has less common words (a word
    no file holds still counts: a file holding one of two words holds half the query); every
    file holding one of those is a candidate, and its share is read from each word's own list
    (at most COMMON_MATCHES files: cheap, and complete). When every word is common, up to
    COMMON_MATCHES files holding all of them are the candidates, each holding the whole query."""
    counts = {t: store.keyword_count(t, COMMON_MATCHES + 1) for t in keywords.terms}
    rare = [t for t in keywords.terms if 0 < counts[t] <= COMMON_MATCHES]
    if rare:
        ids = store.keyword_unranked(" OR ".join(rare), COMMON_MATCHES * len(rare), keywords.excluded,
                                     within=keywords.phrases)
        held: dict[int, int] = {}
        for term in rare:
            for image_id in store.keyword_unranked(term, COMMON_MATCHES):
                held[image_id] = held.get(image_id, 0) + 1
        counted = sum(1 for t in keywords.terms if counts[t] <= COMMON_MATCHES)  # words no file holds count too
        return WordMatches(ids, {i: n / counted for i, n in held.items()})
    every = [t for t in keywords.terms if counts[t]] + ([keywords.phrases] if keywords.phrases else [])
    if not every:
        return WordMatches([], {})
    ids = store.keyword_unranked(" AND ".join(every), COMMON_MATCHES, keywords.excluded)
    return WordMatches(ids, dict.fromkeys(ids, 1.0))


def fuse_with_words(
    store: "LibraryStore",
    index: "VectorIndex",
    query: np.ndarray,
    keywords: KeywordQuery,
    matches: WordMatches,
    clip_ids: list[int],
    clip_scores: list[float],
    mask: Optional[np.ndarray],
    limit: int,
) -> tuple[list[int], list[float], list[str]]:
    """(image ids, cosine scores, why each matched) of the fused ranking, best first, from the
    picture list and the files whose words match (from keyword_candidates).

    Keyword hits count only when the image is searchable (in the index) and passes the
    filters; their score is still the picture's cosine (from the approximate index's codes when
    there is one), so scores mean one thing throughout. A picture hit whose words hold the
    query's gets the same words bonus as a word match.
    """
    if keywords.phrases is not None or keywords.excluded is not None:
        # A phrase must be in the words; a negative term's words must not.
        allowed = set(clip_ids) if keywords.phrases is None else store.keyword_subset(keywords.phrases, clip_ids)
        if keywords.excluded is not None:
            allowed -= store.keyword_subset(keywords.excluded, clip_ids)
        kept = [(i, s) for i, s in zip(clip_ids, clip_scores) if i in allowed]
        clip_ids, clip_scores = [i for i, _ in kept], [s for _, s in kept]
    found = np.array(matches.ids, dtype=np.int64)
    words_only = np.empty(0, dtype=np.int64)
    if len(found) and len(index):
        positions = np.minimum(index.positions(found), len(index) - 1)
        present = index.ids[positions] == found
        if mask is not None:
            present &= mask[positions]
        words_only = np.setdiff1d(found[present], np.array(clip_ids, dtype=np.int64))
    cosines: dict[int, float] = {}
    if len(words_only):  # their cosine from the index itself (8-bit codes when approximate)
        if index.ann is not None:
            vectors = index.ann.vectors(words_only)
        else:
            vectors = index.matrix[index.positions(words_only)].astype(np.float32)
        cosines = dict(zip(words_only.tolist(), (vectors @ query).tolist()))
    if keywords.terms:
        shares = {i: matches.shares[i] for i in (*clip_ids, *cosines) if i in matches.shares}
    else:  # quoted stopwords only: every result holds the phrase
        shares = dict.fromkeys((*clip_ids, *cosines), 1.0)
    order = weighted_order(list(zip(clip_ids, clip_scores)), shares, cosines=cosines)[:limit]
    known = {**cosines, **dict(zip(clip_ids, clip_scores))}
    in_clip = set(clip_ids)
    why = [BOTH if i in in_clip and i in shares else PICTURE if i in in_clip else WORDS for i in order]
    return order, [float(known[i]) for i in order], why
