"""Find the chunks a request needs: keyword rank (FTS5 bm25) and vector rank (cosine), fused by
weighted reciprocal rank; keywords weigh more when the request names identifiers, and chunks whose
symbol the request names are boosted. (The code job fills what it is given to the model's context.)"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .chunking import language_of
from .store import ProjectStore

CANDIDATES = 50
RRF_K = 60
# Weight of the vector rank (keywords get 1 - it), measured over a grid of 0.0-1.0 with the real
# all-MiniLM-L6-v2, chosen on click and jinja2 and reported on requests, packaging and attrs
# (tests/benchmarks/code_retrieval.py --parts weights, docs/benchmarks.md): requests in plain words
# do best at 0.8; requests that name identifiers lean more on words, at 0.6.
VECTOR_WEIGHT = 0.8
VECTOR_WEIGHT_WITH_IDENTIFIERS = 0.6
SYMBOL_BOOST = 1.0 / RRF_K  # as much as a first place in one of the two ranks
STOPWORDS = frozenset(
    "a an and are as at be by do does for from how i in is it its me my of on or that the this to was what "
    "when where which who why will with you your can should would could into about add make write code "
    "function method class file please use using".split()
)


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    path: str
    start_line: int
    end_line: int
    symbol: str
    score: float
    matched: str  # "words", "meaning", "words+meaning", with "+symbol" when the request names it
    text: str

    def to_json(self, with_text: bool = False) -> dict[str, Any]:
        data = {"path": self.path, "start_line": self.start_line, "end_line": self.end_line,
                "symbol": self.symbol, "score": round(self.score, 4), "matched": self.matched}
        if with_text:
            data["text"] = self.text
            data["language"] = language_of_path(self.path)
        return data


def language_of_path(path: str) -> str:
    from pathlib import PurePosixPath

    return language_of(PurePosixPath(path))


def identifiers_in(text: str) -> set[str]:
    """Words of the request written as code: snake_case, camelCase, dotted or called()."""
    found = set(re.findall(r"\b[A-Za-z_]\w*_\w+\b|\b[a-z]+[A-Z]\w*\b|\b[A-Z][a-z]+[A-Z]\w*\b", text))
    found |= set(re.findall(r"\b([A-Za-z_]\w*)\s*\(", text))
    found |= {part for dotted in re.findall(r"\b\w+(?:\.\w+)+\b", text) for part in dotted.split(".")}
    return {word for word in found if len(word) > 2}


def keyword_query(text: str) -> Optional[str]:
    """FTS5 query: any of the request's words (quoted, so typed operators are words)."""
    words = [w for w in re.findall(r"[A-Za-z0-9]+", text) if w.lower() not in STOPWORDS and len(w) > 1]
    parts = set(words)
    for word in identifiers_in(text):
        parts.update(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", word))
    parts = {p for p in parts if p.lower() not in STOPWORDS and len(p) > 1}
    return " OR ".join(f'"{p}"' for p in sorted(parts)) or None


def keyword_ranks(store: ProjectStore, text: str, limit: int = CANDIDATES) -> list[int]:
    query = keyword_query(text)
    if query is None:
        return []
    # bm25 weights: a word in the symbol counts most, then the path, then the code
    rows = store.query("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? "
                       "ORDER BY bm25(chunks_fts, 2.0, 4.0, 1.0) LIMIT ?", (query, limit))
    return [row[0] for row in rows]


def vector_ranks(ids: np.ndarray, matrix: np.ndarray, query: Optional[np.ndarray],
                 limit: int = CANDIDATES) -> list[tuple[int, float]]:
    if query is None or len(ids) == 0:
        return []
    scores = matrix @ query.astype(np.float32)
    top = np.argsort(-scores)[:limit]
    return [(int(ids[i]), float(scores[i])) for i in top]


def fuse(keyword: list[int], vector: list[tuple[int, float]], vector_weight: float,
         boosted: set[int] = frozenset()) -> list[tuple[int, float, str]]:
    """(chunk id, fused score, why) best first: weighted reciprocal rank of the two lists."""
    scores: dict[int, float] = {}
    why: dict[int, set[str]] = {}
    for rank, chunk in enumerate(keyword):
        scores[chunk] = scores.get(chunk, 0.0) + (1 - vector_weight) / (RRF_K + rank + 1)
        why.setdefault(chunk, set()).add("words")
    for rank, (chunk, _) in enumerate(vector):
        scores[chunk] = scores.get(chunk, 0.0) + vector_weight / (RRF_K + rank + 1)
        why.setdefault(chunk, set()).add("meaning")
    for chunk in boosted:
        scores[chunk] = scores.get(chunk, 0.0) + SYMBOL_BOOST
        why.setdefault(chunk, set()).add("symbol")
    order = sorted(scores, key=lambda c: -scores[c])
    labels = {frozenset({"words"}): "words", frozenset({"meaning"}): "meaning"}
    return [(c, scores[c], labels.get(frozenset(why[c])) or "+".join(
        w for w in ("words", "meaning", "symbol") if w in why[c])) for c in order]


def search(store: ProjectStore, text: str, query_vector: Optional[np.ndarray], model: Optional[str],
           limit: int = 10, mode: str = "fused", vectors: Optional[tuple[np.ndarray, np.ndarray]] = None,
           vector_weight: Optional[float] = None) -> list[Hit]:
    """The best chunks for `text`. mode: fused, keywords or vectors (the benchmark compares them);
    `vector_weight` overrides the measured weights (the benchmark's grid)."""
    names = identifiers_in(text)
    keyword = keyword_ranks(store, text) if mode != "vectors" else []
    vector: list[tuple[int, float]] = []
    if mode != "keywords" and query_vector is not None and model is not None:
        ids, matrix = vectors if vectors is not None else store.chunk_vectors(model)
        vector = vector_ranks(ids, matrix, query_vector)
    boosted: set[int] = set()
    if names and mode == "fused":
        marks = ",".join("?" * len(names))
        rows = store.query(f"SELECT id, symbol FROM chunks WHERE symbol IN ({marks}) OR "
                           f"substr(symbol, instr(symbol, '.') + 1) IN ({marks})", (*names, *names))
        boosted = {row[0] for row in rows}
    weight = vector_weight if vector_weight is not None else (
        VECTOR_WEIGHT_WITH_IDENTIFIERS if names else VECTOR_WEIGHT)
    if not vector:
        weight = 0.0
    elif not keyword:
        weight = 1.0
    fused = fuse(keyword, vector, weight, boosted)[:limit]
    if not fused:
        return []
    rows = {row[0]: row for row in store.query(
        f"SELECT c.id, f.path, c.start_line, c.end_line, c.symbol, c.text FROM chunks c JOIN files f "
        f"ON f.id = c.file_id WHERE c.id IN ({','.join('?' * len(fused))})", tuple(c for c, _, _ in fused))}
    return [Hit(c, rows[c][1], rows[c][2], rows[c][3], rows[c][4], score, why, rows[c][5])
            for c, score, why in fused if c in rows]

