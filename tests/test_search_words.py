"""Words in the search: file names, prompts and descriptions in SQLite FTS5 beside the CLIP
vectors; combined ranking chosen on a labelled set; "quoted phrases" must match; each hit says
why it matched; kept up to date by the scan; older libraries gain it on upgrade."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentstudio.library import add_folders, search_library, submit_index
from latentstudio.library.keyword_rank import WORDS_WEIGHT, keyword_candidates, weighted_order
from latentstudio.library.store import LibraryStore
from latentstudio.library.words import keyword_query
from tests.support import tiny_clip
from tests.support import tool_files as tf
from tests.test_library_migrations import write_0_1_0_library

PLACES = ("paris", "tokyo", "lima")


def noise(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path, quality=90)
    return path


@pytest.fixture
def shapes_ctx(ctx, tiny_models):
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    return ctx


def index(ctx, folder: Path) -> None:
    add_folders(ctx, [folder])
    ctx.library.scan()
    submit_index(ctx).result(120)


def test_a_meaningless_picture_is_found_by_its_name_and_phrases_must_match(shapes_ctx, tmp_path: Path) -> None:
    ctx = shapes_ctx
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = random.Random(3)
    for k, (colour, shape) in enumerate(tiny_clip.classes()):
        tiny_clip.shape_image(colour, shape, rng, size=96).save(photos / f"IMG_{k:04d}.jpg", quality=92)
    noise(photos / "lighthouse-at-dusk.jpg", 1)
    noise(photos / "red-car-at-night.jpg", 2)
    noise(photos / "a-car-painted-red.jpg", 3)
    tf.png_with_text(photos / "00042-123.png", {"parameters": "a castle in the mountains\nNegative prompt: lighthouse\n"
                                                               "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1"})
    (photos / "trip").mkdir()
    tf.photo_with_xmp(photos / "trip" / "DSC_0001.jpg")
    index(ctx, photos)

    hits = search_library(ctx, "lighthouse", limit=5, min_score=0.2)
    assert hits[0].path.name == "lighthouse-at-dusk.jpg" and hits[0].matched == "words"
    assert "00042-123.png" not in [h.path.name for h in hits]  # a negative prompt is not what a file shows
    assert not search_library(ctx, "lighthouse", limit=5, min_score=0.2, words=False) or \
        search_library(ctx, "lighthouse", limit=5, min_score=0.2, words=False)[0].path.name != "lighthouse-at-dusk.jpg"

    either = {h.path.name for h in search_library(ctx, "red car", limit=30, min_score=-1.0)}
    assert {"red-car-at-night.jpg", "a-car-painted-red.jpg"} <= either
    phrase = search_library(ctx, '"red car"', limit=30, min_score=-1.0)
    assert [h.path.name for h in phrase] == ["red-car-at-night.jpg"]  # the phrase, not just its words
    assert search_library(ctx, 'a red circle "no such words"', limit=30, min_score=-1.0) == []

    castle = search_library(ctx, "castle", limit=3, min_score=0.2)
    assert castle[0].path.name == "00042-123.png" and castle[0].matched in ("words", "both")  # its A1111 prompt
    harbour = search_library(ctx, "whitby harbour", limit=3, min_score=0.2)
    assert harbour[0].path.name == "DSC_0001.jpg"  # XMP description
    assert search_library(ctx, "trip", limit=3, min_score=0.2)[0].path.name == "DSC_0001.jpg"  # its folder's name

    hits = search_library(ctx, "a red circle lighthouse", limit=40, min_score=-1.0)
    why = {h.path.name: h.matched for h in hits}
    red_circle = f"IMG_{tiny_clip.classes().index(('red', 'circle')):04d}.jpg"
    assert hits[0].path.name in (red_circle, "lighthouse-at-dusk.jpg")
    assert why[red_circle] == "picture" and why["lighthouse-at-dusk.jpg"] == "both"  # no cut-off: in both lists
    assert json.loads(json.dumps(hits[0].to_json()))["matched"] == hits[0].matched
    assert "lighthouse-at-dusk.jpg" not in [h.path.name for h in search_library(ctx, "lighthouse -dusk", min_score=-1.0)]


def test_every_file_holding_the_words_ranks_above_picture_only_matches(shapes_ctx, tmp_path: Path) -> None:
    """"hopper" ranked hopper.heif 1st and hopper.jpg last of 36: bm25 weakens a match in a long
    description, and min-max normalisation gave the weakest word match no bonus at all."""
    ctx = shapes_ctx
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = random.Random(5)
    for k, (colour, shape) in enumerate(tiny_clip.classes() * 3):
        tiny_clip.shape_image(colour, shape, rng, size=96).save(photos / f"IMG_{k:04d}.jpg", quality=92)
    filler = "oil painting, dramatic light, highly detailed, muted colours, wide angle, quiet street, " * 6
    noise(photos / "hopper.jpg", 1)

    def pixels(seed: int) -> Image.Image:
        return Image.open(noise(tmp_path / f"pixels-{seed}.jpg", seed)).convert("RGB")

    tf.png_with_text(photos / "hopper.png", {"Description": "a diner at night"}, pixels(2))
    tf.png_with_text(photos / "nighthawks.png", {"Description": f"after Edward Hopper: {filler}"}, pixels(3))
    tf.png_with_text(photos / "00001-42.png", {"parameters": f"a woman in a hopper diner, {filler}\n"
                                                            "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1"}, pixels(4))
    tf.png_with_text(photos / "00002-43.png", {"parameters": f"a woman reading by a window, {filler}\n"
                                                            "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 2"}, pixels(5))
    index(ctx, photos)
    carrying = {"hopper.jpg", "hopper.png", "nighthawks.png", "00001-42.png"}

    hits = search_library(ctx, "hopper", limit=100, min_score=-1.0)
    names = [h.path.name for h in hits]
    assert set(names[: len(carrying)]) == carrying, names
    assert all(h.matched != "picture" for h in hits[: len(carrying)])
    assert all(h.matched == "picture" for h in hits[len(carrying):])
    scores = [h.score for h in hits[: len(carrying)]]
    assert scores == sorted(scores, reverse=True)  # the same words: ordered by the picture
    woman = [h.path.name for h in search_library(ctx, "woman", limit=100, min_score=-1.0)]
    assert set(woman[:2]) == {"00001-42.png", "00002-43.png"}, woman
    # Both words beat one of them; the cut-off does not bury a file that holds the words.
    both = [h.path.name for h in search_library(ctx, "woman hopper", limit=10, min_score=0.9)]
    assert both[0] == "00001-42.png" and set(both[1:]) == carrying - {"00001-42.png"} | {"00002-43.png"}


def test_words_follow_renames_and_edits_through_the_scan(shapes_ctx, tmp_path: Path) -> None:
    ctx = shapes_ctx
    photos = tmp_path / "photos"
    photos.mkdir()
    noise(photos / "lighthouse.jpg", 1)
    noise(photos / "other.jpg", 2)
    index(ctx, photos)

    def by_words(text: str) -> set[str]:
        return {h.path.name for h in search_library(ctx, text, min_score=-1.0) if h.matched != "picture"}

    assert by_words("lighthouse") == {"lighthouse.jpg"}
    shutil.move(photos / "lighthouse.jpg", photos / "windmill.jpg")  # a move: same content, new name
    tf.png_with_text(photos / "castle.png", {"Description": "a windmill by a canal"})
    index(ctx, photos)
    assert by_words("lighthouse") == set()
    assert by_words("windmill") == {"windmill.jpg", "castle.png"}
    assert by_words("canal") == {"castle.png"}
    tf.png_with_text(photos / "castle.png", {"Description": "a castle on a hill"})  # the text edited
    index(ctx, photos)
    assert by_words("canal") == set() and by_words("hill") == {"castle.png"}


def test_a_library_from_the_previous_format_gains_words_with_nothing_lost(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    write_0_1_0_library(path)
    store = LibraryStore(path)
    try:
        assert len(store.images_by_ids([1, 2, 3])) == 3 and store.vector_for_hash("h1", "clip") is not None
        assert store.keyword_unranked('"b"', 10) == [2]  # names are indexed at upgrade
        assert store.keyword_unranked('"circle"', 10) == [3]  # and a generated image's prompt
        assert store.ids_without_words(1) == {1, 2}  # the text inside files waits for the next scan
    finally:
        store.close()


def test_keyword_queries_are_quoted_tokens_only() -> None:
    query = keyword_query('a "red car" AND NOT) -blue -"dark sky" near:*')
    assert query is not None
    assert query.any_terms == '"red" OR "car" OR "not" OR "near"'  # operators are words ("and" a stopword)
    assert query.phrases == '"red car"' and query.excluded == '"blue" OR "dark sky"'
    assert keyword_query("a photo of the") is None  # only stopwords: the picture search alone


# -- choosing the combination on a labelled set -------------------------------------------------


def average_precision(ranked: list[int], relevant: set[int], k: int = 10) -> float:
    hits, total = 0, 0.0
    for position, image_id in enumerate(ranked[:k], start=1):
        if image_id in relevant:
            hits += 1
            total += hits / position
    return total / min(len(relevant), k) if relevant else 0.0


def bm25_min_max_order(pictures: list[tuple[int, float]], words: list[tuple[int, float]], w: float = WORDS_WEIGHT) -> list[int]:
    """The method before: each list min-max normalised (bm25 on the words side), weighted."""
    def normalised(pairs: list[tuple[int, float]]) -> dict[int, float]:
        if not pairs:
            return {}
        low, high = min(s for _, s in pairs), max(s for _, s in pairs)
        return {i: (s - low) / (high - low) if high > low else 1.0 for i, s in pairs}

    a, b = normalised(pictures), normalised(words)
    fused = {i: (1 - w) * a.get(i, 0.0) + w * b.get(i, 0.0) for i in {**a, **b}}
    return sorted(fused, key=lambda i: -fused[i])


def rrf_order(lists: list[list[int]], k: int = 60, weights: tuple[float, ...] = (1.0, 1.0)) -> list[int]:
    """The alternative: reciprocal rank fusion, each list adding weight / (k + rank)."""
    scores: dict[int, float] = {}
    for ranked, weight in zip(lists, weights):
        for position, image_id in enumerate(ranked, start=1):
            scores[image_id] = scores.get(image_id, 0.0) + weight / (k + position)
    return sorted(scores, key=lambda i: -scores[i])


def test_combined_ranking_beats_pictures_alone_and_words_alone(shapes_ctx, tmp_path: Path, capsys) -> None:
    ctx = shapes_ctx
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = random.Random(11)
    labels: dict[str, tuple[str, str, str]] = {}
    for colour, shape in tiny_clip.classes():
        for place in PLACES:
            for k in range(2):
                name = f"{place}-{len(labels):04d}.jpg"  # the place is in the name; the picture does not show it
                tiny_clip.shape_image(colour, shape, rng, size=96).save(photos / name, quality=92)
                labels[name] = (colour, shape, place)
    index(ctx, photos)
    by_path = {h.path.name: h.image_id for h in search_library(ctx, "a shape", limit=1000, min_score=-1.0, words=False)}
    ids = {name: by_path[name] for name in labels}

    queries: list[tuple[str, str, set[int]]] = []
    for colour, shape in tiny_clip.classes():
        place = PLACES[len(queries) % len(PLACES)]
        queries.append(("picture+words", f"a {colour} {shape} in {place}",
                        {ids[n] for n, l in labels.items() if l == (colour, shape, place)}))
        queries.append(("picture", f"a {colour} {shape}", {ids[n] for n, l in labels.items() if l[:2] == (colour, shape)}))
    for place in PLACES:
        queries.append(("words", place, {ids[n] for n, l in labels.items() if l[2] == place}))

    store = ctx.library.store
    min_score = ctx.settings.search_min_score
    every_cosine = {text: {h.image_id: h.score for h in search_library(ctx, text, limit=1000, min_score=-1.0, words=False)}
                    for _, text, _ in queries}
    results: dict[str, dict[str, list[float]]] = {}
    for kind, text, relevant in queries:
        clip_hits = search_library(ctx, text, limit=100, min_score=min_score, words=False)
        clip = [(h.image_id, h.score) for h in clip_hits]
        keyword = keyword_query(text)
        words: list[tuple[int, float]] = []
        if keyword is not None:
            rows = store.connection().execute(
                "SELECT rowid, -bm25(image_words, 2.0, 1.0) FROM image_words WHERE image_words MATCH ? "
                "ORDER BY bm25(image_words, 2.0, 1.0) LIMIT 100", (keyword.any_terms,)).fetchall()
            words = [(int(i), float(s)) for i, s in rows]
        picture_ids = {i for i, _ in clip}
        cosines = {i: every_cosine[text][i] for i, _ in words if i not in picture_ids}
        held = keyword_candidates(store, keyword).shares if keyword else {}
        shares = {i: held[i] for i in [*picture_ids, *cosines] if i in held}
        combined = [h.image_id for h in search_library(ctx, text, limit=100, min_score=min_score)]
        assert combined[:10] == weighted_order(clip, shares, cosines=cosines)[:10]  # the search is this method
        lists = [[i for i, _ in clip], [i for i, _ in words]]
        rankings = {
            "pictures alone": lists[0],
            "words alone (bm25)": lists[1],
            f"weighted {WORDS_WEIGHT} (chosen)": combined,
            "weighted 0.3": weighted_order(clip, shares, 0.3, cosines),
            "weighted 0.5": weighted_order(clip, shares, 0.5, cosines),
            "weighted 0.7": weighted_order(clip, shares, 0.7, cosines),
            f"weighted {WORDS_WEIGHT}, bm25 min-max (before)": bm25_min_max_order(clip, words),
            "RRF k=60": rrf_order(lists),
            "RRF k=10": rrf_order(lists, k=10),
            "RRF k=60 words x1.5": rrf_order(lists, weights=(1, 1.5)),
            "RRF k=60 words x3": rrf_order(lists, weights=(1, 3)),
        }
        for method, ranked in rankings.items():
            results.setdefault(method, {}).setdefault(kind, []).append(average_precision(ranked, relevant))
    mean = {m: float(np.mean([ap for aps in per.values() for ap in aps])) for m, per in results.items()}
    with capsys.disabled():
        print(f"\nMAP@10 over {len(queries)} labelled queries (cut-off {min_score}):")
        for method, per in results.items():
            kinds = ", ".join(f"{kind} {np.mean(aps):.3f}" for kind, aps in per.items())
            print(f"  {method:22} {mean[method]:.3f}   ({kinds})")
    chosen = mean[f"weighted {WORDS_WEIGHT} (chosen)"]
    assert chosen > mean["pictures alone"] and chosen > mean["words alone (bm25)"]
    assert chosen >= max(mean.values()) - 1e-9, mean
