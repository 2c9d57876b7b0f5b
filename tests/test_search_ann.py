"""Approximate search (faiss IVF-SQ8) against exact search, and the index following the database.

Synthetic clustered unit vectors written straight into a library database, the way the indexer
stores them; the approximate threshold is lowered so a few thousand vectors use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pytest

from latentstudio.library.photo_library import Library
from latentstudio.library.search import SearchFilters, SearchRequest, rank
from latentstudio.library.store import vector_blob

DIM = 64
MODEL = "synthetic"
ANN_FROM = 1_000


def clustered(rng: np.random.Generator, count: int, clusters: int = 40) -> np.ndarray:
    centers = rng.standard_normal((clusters, DIM)).astype(np.float32)
    vectors = centers[rng.integers(0, clusters, count)] + 0.12 * rng.standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def add_images(library: Library, folder: Path, vectors: np.ndarray, first: int = 0, fmt: str = "jpeg",
               side: int = 1000, taken: float = 1.6e9) -> list[int]:
    """Images with these vectors under `folder` (added to the library if new); their ids."""
    store = library.store
    record = store.folder_by_path(folder) or store.add_folder(folder)
    with store.transaction() as db:
        ids = []
        for i, vector in enumerate(vectors):
            n = first + i
            digest = f"{folder.name}-{n:07d}"
            ids.append(db.execute(
                "INSERT INTO images(folder_id, path, size, mtime, hash, width, height, taken, format, status, added) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', 0)",
                (record.id, f"{folder}/{n:07d}.jpg", 1000 + n, 1.5e9, digest, side, side, taken + n, fmt),
            ).lastrowid)
            db.execute("INSERT INTO vectors(hash, model, dim, data) VALUES(?, ?, ?, ?)",
                       (digest, MODEL, DIM, vector_blob(vector)))
    return ids


def search(library: Library, query: np.ndarray, limit: int = 20, min_score: float = -1.0,
           filters: Optional[SearchFilters] = None, negatives: Optional[list[np.ndarray]] = None) -> list:
    index = library.vector_index(MODEL)
    request = SearchRequest(text="q", limit=limit, min_score=min_score, filters=filters or SearchFilters())
    return rank(library, index, query, negatives or [], request, min_score)


def ids_of(hits: list) -> list[int]:
    return [h.image_id for h in hits]


@pytest.fixture
def libraries(paths):
    """(approximate, exact) views of one database of 6,000 clustered vectors in two folders."""
    rng = np.random.default_rng(7)
    approximate = Library(paths, ann_from_rows=ANN_FROM)
    exact = Library(paths, ann_from_rows=None)
    vectors = clustered(rng, 6000)
    add_images(approximate, Path("/lib/a"), vectors[:5000], fmt="jpeg", side=1000)
    add_images(approximate, Path("/lib/b"), vectors[5000:], first=5000, fmt="png", side=300)
    yield approximate, exact, vectors
    approximate.close()
    exact.close()


def queries(vectors: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = vectors[rng.integers(0, len(vectors), count)] + 0.05 * rng.standard_normal((count, DIM)).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def test_approximate_search_recalls_the_exact_top_20(libraries) -> None:
    approximate, exact, vectors = libraries
    assert approximate.vector_index(MODEL).ann is not None
    assert exact.vector_index(MODEL).ann is None
    recalls = []
    for query in queries(vectors, 30):
        want = set(ids_of(search(exact, query)))
        got = search(approximate, query)
        assert len(got) == 20
        recalls.append(len(want & set(ids_of(got))) / 20)
        assert [h.score for h in got] == sorted((h.score for h in got), reverse=True)
    assert np.mean(recalls) >= 0.95


def test_filters_and_the_cut_off_apply_to_approximate_results(libraries) -> None:
    approximate, exact, vectors = libraries
    query = queries(vectors, 1)[0]
    png = search(approximate, query, limit=50, filters=SearchFilters(file_types=("png",)))
    assert png and all(h.format == "png" for h in png)
    big = search(approximate, query, limit=50, filters=SearchFilters(min_side=500))
    assert big and all(h.width >= 500 for h in big)
    dated = SearchFilters(date_from=1.6e9 + 100, date_to=1.6e9 + 400)
    window = search(approximate, query, limit=50, filters=dated)
    assert window and all(1.6e9 + 100 <= h.taken <= 1.6e9 + 400 for h in window)
    folder = search(approximate, query, limit=50, filters=SearchFilters(folder=Path("/lib/b")))
    assert folder and all(str(h.path).startswith("/lib/b/") for h in folder)
    # A filter so narrow the clusters near the query hold none of it: every matching image still comes back.
    narrow = SearchFilters(date_from=1.6e9 + 10, date_to=1.6e9 + 14)
    assert sorted(ids_of(search(approximate, query, filters=narrow))) == \
        sorted(ids_of(search(exact, query, filters=narrow)))
    cut = search(exact, query, limit=500, min_score=0.5)
    assert 0 < len(cut) < 500
    got = search(approximate, query, limit=500, min_score=0.5)
    assert all(h.score >= 0.5 for h in got)
    assert len(set(ids_of(got)) & set(ids_of(cut))) >= 0.95 * len(cut)


def test_negative_terms_rerank_approximate_candidates(libraries) -> None:
    approximate, exact, vectors = libraries
    query, negative = queries(vectors, 2, seed=3)
    blend = query + negative
    blend /= np.linalg.norm(blend)
    plain = set(ids_of(search(exact, blend)))
    want = ids_of(search(exact, blend, negatives=[negative]))
    got = ids_of(search(approximate, blend, negatives=[negative]))
    assert set(want) != plain  # the negative term changes the exact answer…
    assert len(set(want) & set(got)) >= 16  # …and the approximate one the same way


@pytest.mark.parametrize("ann_from", [ANN_FROM, None], ids=["approximate", "exact"])
def test_writes_update_the_index_in_place(paths, ann_from) -> None:
    rng = np.random.default_rng(11)
    library = Library(paths, ann_from_rows=ann_from)
    add_images(library, Path("/lib/a"), clustered(rng, 3000))
    index = library.vector_index(MODEL)
    assert library.full_reads == 1 and len(index) == 3000

    fresh = clustered(rng, 50, clusters=3)
    added = add_images(library, Path("/lib/c"), fresh, first=3000)
    removed = [int(i) for i in index.ids[:40]]
    changed = int(index.ids[100])
    with library.store.transaction() as db:
        db.executemany("DELETE FROM images WHERE id = ?", [(i,) for i in removed])
        db.execute("UPDATE images SET format = 'webp' WHERE id = ?", (changed,))
    index = library.vector_index(MODEL)
    assert library.full_reads == 1, "a write must not re-read every vector"
    assert len(index) == 3010 and index.version == library.store.version()
    assert not set(removed) & set(index.ids.tolist())
    assert (ann_from is not None) == (index.ann is not None)
    top = search(library, fresh[7], limit=1)
    assert top[0].image_id == added[7] and top[0].score > 0.99
    webp = search(library, fresh[7], limit=5, filters=SearchFilters(file_types=("webp",)))
    assert ids_of(webp) == [changed]
    library.close()


def test_an_exact_index_that_grows_past_the_threshold_switches_without_a_full_read(paths) -> None:
    rng = np.random.default_rng(5)
    library = Library(paths, ann_from_rows=ANN_FROM)
    add_images(library, Path("/lib/a"), clustered(rng, 800))
    assert library.vector_index(MODEL).ann is None
    more = clustered(rng, 400)
    ids = add_images(library, Path("/lib/a"), more, first=800)
    index = library.vector_index(MODEL)
    assert index.ann is not None and len(index) == 1200 and library.full_reads == 1
    assert search(library, more[0], limit=1)[0].image_id == ids[0]
    library.close()


def test_a_restart_catches_the_saved_copy_up_instead_of_reading_every_vector(paths) -> None:
    rng = np.random.default_rng(9)
    library = Library(paths, ann_from_rows=ANN_FROM)
    add_images(library, Path("/lib/a"), clustered(rng, 2000))
    library.vector_index(MODEL)
    library.save_index(MODEL)
    saved = library.saved_index_folder(MODEL)
    assert (saved / "ann.faiss").is_file()
    assert library.store.connection().execute("SELECT COUNT(*) FROM changes").fetchone()[0] == 0  # pruned

    later = clustered(rng, 30)
    ids = add_images(library, Path("/lib/a"), later, first=2000)
    restarted = Library(paths, ann_from_rows=ANN_FROM)  # what a new process sees
    index = restarted.vector_index(MODEL)
    assert restarted.full_reads == 0 and len(index) == 2030 and not index.saved
    assert search(restarted, later[3], limit=1)[0].image_id == ids[3]

    # The first process's index is older than the pruned log: it falls back to the saved copy.
    assert not index.needs_saving()  # 30 changes: cheaper to catch up at start than to rewrite the copy
    index.save(saved)
    restarted.store.prune_changes(index.seq)
    add_images(library, Path("/lib/a"), clustered(rng, 5), first=2030)
    assert len(library.vector_index(MODEL)) == 2035 and library.full_reads == 1
    restarted.close()
    library.close()


def test_a_saved_copy_is_read_mapped_and_copied_into_memory_at_its_first_write(paths) -> None:
    """faiss aborts the process on a write to mapped lists: removing, adding and saving over the
    mapped file must first copy them, and give what the in-memory index gives."""
    rng = np.random.default_rng(11)
    library = Library(paths, ann_from_rows=ANN_FROM)
    vectors = clustered(rng, 2000)
    ids = add_images(library, Path("/lib/a"), vectors)
    library.vector_index(MODEL)
    library.save_index(MODEL)
    expected = [ids_of(search(library, q)) for q in queries(vectors, 5)]

    restarted = Library(paths, ann_from_rows=ANN_FROM)
    index = restarted.vector_index(MODEL)
    assert restarted.full_reads == 0 and index.ann.mapped
    assert [ids_of(search(restarted, q)) for q in queries(vectors, 5)] == expected
    assert index.ann.mapped  # searching writes nothing

    with restarted.store.transaction() as db:  # one picture's vector changes
        digest = db.execute("SELECT hash FROM images WHERE id = ?", (ids[0],)).fetchone()[0]
        db.execute("DELETE FROM vectors WHERE hash = ?", (digest,))
        db.execute("INSERT INTO vectors(hash, model, dim, data) VALUES(?, ?, ?, ?)",
                   (digest, MODEL, DIM, vector_blob(-vectors[0])))
    index = restarted.vector_index(MODEL)
    assert not index.ann.mapped and len(index) == 2000
    assert search(restarted, -vectors[0], limit=1)[0].image_id == ids[0]

    reopened = Library(paths, ann_from_rows=ANN_FROM)
    fresh = reopened.vector_index(MODEL)  # mapped again, then saved over its own file
    fresh.saved = False
    fresh.save(restarted.saved_index_folder(MODEL))
    assert not fresh.ann.mapped
    again = Library(paths, ann_from_rows=ANN_FROM)
    assert len(again.vector_index(MODEL)) == 2000 and again.full_reads == 0
    for opened in (library, restarted, reopened, again):
        opened.close()


def test_a_saved_copy_that_cannot_be_mapped_is_read_whole(paths, monkeypatch) -> None:
    import faiss

    rng = np.random.default_rng(12)
    library = Library(paths, ann_from_rows=ANN_FROM)
    add_images(library, Path("/lib/a"), clustered(rng, 2000))
    library.vector_index(MODEL)
    library.save_index(MODEL)
    read_index = faiss.read_index

    def no_mapping(path, flags=0):
        if flags & faiss.IO_FLAG_MMAP_IFC:
            raise RuntimeError("Error: 'Not implemented'")
        return read_index(path, flags)

    monkeypatch.setattr(faiss, "read_index", no_mapping)
    restarted = Library(paths, ann_from_rows=ANN_FROM)
    index = restarted.vector_index(MODEL)
    assert restarted.full_reads == 0 and len(index) == 2000 and not index.ann.mapped
    restarted.close()
    library.close()


def test_a_float16_exact_matrix_scores_in_float32_chunks(paths, monkeypatch) -> None:
    from latentstudio.library import vectors as vectors_module

    rng = np.random.default_rng(3)
    library = Library(paths, ann_from_rows=None)
    data = clustered(rng, 500)
    add_images(library, Path("/lib/a"), data)
    monkeypatch.setattr(vectors_module, "FLOAT16_ABOVE_BYTES", 0)
    monkeypatch.setattr(vectors_module, "SCORE_CHUNK_ROWS", 64)
    index = library.vector_index(MODEL)
    assert index.matrix.dtype == np.float16
    query = queries(data, 1)[0]
    expected = data.astype(np.float16).astype(np.float32) @ query
    assert np.allclose(index.scores(query), expected, atol=1e-4)
    library.close()


def test_too_few_vectors_to_cluster_stay_exact(paths) -> None:
    """Many images but few of them encoded yet: nothing to learn clusters from."""
    rng = np.random.default_rng(2)
    library = Library(paths, ann_from_rows=500)
    add_images(library, Path("/lib/a"), clustered(rng, 100))
    folder = library.store.folder_by_path(Path("/lib/a"))
    with library.store.transaction() as db:
        db.executemany(
            "INSERT INTO images(folder_id, path, size, mtime, hash, status, added) VALUES(?, ?, 1, 0, ?, 'ok', 0)",
            [(folder.id, f"/lib/a/other{i}.jpg", f"other{i}") for i in range(600)],
        )
    index = library.vector_index(MODEL)
    assert index.ann is None and len(index) == 100
    library.close()


def test_a_small_library_keeps_its_change_log_short(paths, monkeypatch) -> None:
    from latentstudio.library import photo_library

    monkeypatch.setattr(photo_library, "PRUNE_LOG_ABOVE", 100)
    rng = np.random.default_rng(4)
    library = Library(paths, ann_from_rows=None)
    other = Library(paths, ann_from_rows=None)  # another process with its own index
    add_images(library, Path("/lib/a"), clustered(rng, 50))
    other.vector_index(MODEL)
    add_images(library, Path("/lib/a"), clustered(rng, 80), first=50)
    assert len(library.vector_index(MODEL)) == 130
    log = library.store.connection().execute("SELECT COUNT(*) FROM changes").fetchone()[0]
    assert log == 0 and library.store.changes_floor() > 0
    assert len(other.vector_index(MODEL)) == 130 and other.full_reads == 2  # behind the pruned log
    library.close()
    other.close()
