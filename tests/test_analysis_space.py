"""The vector service: reading vectors and nearest neighbours agree between the exact and the
approximate index; the similarity join finds the same close pairs as brute force."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentstudio.library.analysis import space as space_module
from latentstudio.library.analysis.space import VectorSpace
from latentstudio.library.photo_library import Library
from tests.test_search_ann import ANN_FROM, MODEL, add_images, clustered


@pytest.fixture
def spaces(paths):
    rng = np.random.default_rng(3)
    vectors = clustered(rng, 4000)
    # Planted close copies: 40 pairs at cosine ≥ 0.98.
    copies = vectors[:40] + 0.01 * rng.standard_normal((40, vectors.shape[1])).astype(np.float32)
    vectors = np.concatenate([vectors, copies / np.linalg.norm(copies, axis=1, keepdims=True)])
    approximate, exact = Library(paths, ann_from_rows=ANN_FROM), Library(paths, ann_from_rows=None)
    ids = add_images(exact, Path("/lib/a"), vectors)
    yield VectorSpace.of(exact, MODEL), VectorSpace.of(approximate, MODEL), np.array(ids), vectors
    approximate.close()
    exact.close()


def test_vectors_by_id_match_in_both_indexes(spaces) -> None:
    exact, approximate, ids, vectors = spaces
    assert not exact.approximate and approximate.approximate
    assert len(exact) == len(approximate) == len(ids)
    wanted = np.array([ids[5], 10**9, ids[0], ids[-1]])
    for space in (exact, approximate):
        found, got = space.vectors(wanted)
        assert found.tolist() == [ids[5], ids[0], ids[-1]]  # unknown ids are left out, order kept
        np.testing.assert_allclose(got, vectors[[5, 0, -1]], atol=0.02)


def test_neighbours_agree_between_exact_and_approximate(spaces) -> None:
    exact, approximate, ids, _ = spaces
    queries = ids[::97]
    _, exact_ids, exact_scores = exact.neighbours(queries, 10)
    found, approx_ids, approx_scores = approximate.neighbours(queries, 10)
    assert found.tolist() == queries.tolist()
    assert not (exact_ids == queries[:, None]).any() and not (approx_ids == queries[:, None]).any()  # an image is not its own neighbour
    assert np.all(np.diff(exact_scores, axis=1) <= 1e-6)  # best first
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact_ids, approx_ids)])
    assert recall >= 0.8, recall  # within a cluster neighbours are near ties; search's own recall@20 is alike
    np.testing.assert_allclose(approx_scores[:, 0], exact_scores[:, 0], atol=0.02)
    # A close copy is the nearest neighbour in both.
    for space in (exact, approximate):
        _, nearest, _ = space.neighbours(ids[:40], 1)
        assert nearest[:, 0].tolist() == ids[4000:].tolist()


def test_close_pairs_match_brute_force(spaces, monkeypatch) -> None:
    exact, approximate, ids, vectors = spaces
    sims = vectors @ vectors.T
    rows, cols = np.nonzero(np.triu(sims >= 0.97, k=1))
    truth = {(int(ids[r]), int(ids[c])) for r, c in zip(rows, cols)}
    assert len(truth) >= 40
    monkeypatch.setattr(space_module, "CELL_ROWS", 500)  # several cells even at this size
    for space in (exact, approximate):
        a, b, s = space.close_pairs(0.97)
        found = set(zip(a.tolist(), b.tolist()))
        assert len(found & truth) / len(truth) >= 0.95
        assert len(found - truth) <= 0.05 * len(truth) and np.all(a < b) and np.all(s >= 0.97)
    # Incremental: pairs of the planted copies only.
    a, b, _ = exact.close_pairs(0.97, among=ids[-40:])
    assert {(int(ids[i]), int(ids[4000 + i])) for i in range(40)} <= set(zip(a.tolist(), b.tolist()))
