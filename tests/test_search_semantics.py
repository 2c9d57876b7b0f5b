"""Search semantics with the trained tiny CLIP (clip-shapes), filters, cut-off, weights and the CLI."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from latentstudio import cli
from latentstudio.library import SearchFilters, add_folders, submit_index
from latentstudio.library import search_library as library_search
from latentstudio.library.query import parse_query, split_terms
from tests.support import tiny_clip


def search(*args, **kwargs):
    """Picture semantics alone: these file names spell their classes, which keyword search would read."""
    return library_search(*args, words=False, **kwargs)


def _class_of(path: Path) -> str:
    return "-".join(path.stem.split("-")[:2])


def test_text_queries_find_the_right_shape_and_colour(shapes) -> None:
    ctx, _ = shapes
    precisions = []
    for colour, shape in tiny_clip.classes():
        hits = search(ctx, f"a {colour} {shape}", limit=5, min_score=-1.0)
        assert len(hits) == 5
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
        precisions.append(np.mean([_class_of(h.path) == f"{colour}-{shape}" for h in hits]))
    assert np.mean(precisions) >= 0.8, precisions


def test_negatives_weights_cut_off_and_filters(shapes, tmp_path: Path) -> None:
    ctx, photos = shapes
    plain = [_class_of(h.path) for h in search(ctx, "a red square", limit=10, min_score=-1.0)]
    assert "red-circle" in plain
    for negative in ({"negative": "a red circle"}, {"text": 'a red square -"a red circle"'}):
        query = {"text": "a red square", **negative}
        avoided = [_class_of(h.path) for h in search(ctx, limit=10, min_score=-1.0, **query)]
        assert "red-circle" not in avoided
        assert avoided.count("red-square") >= 3

    # Text and image together: the weights decide which one leads.
    example = photos / "yellow-triangle-0.jpg"
    text_led = search(ctx, "a green circle", image=example, text_weight=1.0, image_weight=0.0, limit=3,
                      min_score=-1.0)
    image_led = search(ctx, "a green circle", image=example, text_weight=0.0, image_weight=1.0, limit=3,
                       min_score=-1.0)
    assert _class_of(text_led[0].path) == "green-circle"
    assert image_led[0].path == example

    # The cut-off: nothing unrelated comes back just because the library is small.
    assert search(ctx, "a red circle", min_score=0.999) == []
    scores = [h.score for h in search(ctx, "a red circle", limit=100, min_score=0.5)]
    assert scores and min(scores) >= 0.5 and len(scores) < 72
    ctx.settings.update(search_min_score=0.999)
    assert search(ctx, "a red circle") == []  # the Settings cut-off applies by default

    # Filters: folder, file type, minimum size, date range.
    other = tmp_path / "other"
    other.mkdir()
    rng = random.Random(1)
    tiny_clip.shape_image("red", "circle", rng, size=300).save(other / "red-circle-big.png")
    old = other / "red-circle-old.png"
    tiny_clip.shape_image("red", "circle", rng, size=96).save(old)
    os.utime(old, (1_000_000_000, 1_000_000_000))  # 2001
    add_folders(ctx, [other])
    ctx.library.scan()
    submit_index(ctx).result(60)
    anywhere = search(ctx, "a red circle", limit=100, min_score=-1.0)
    assert {h.path.parent for h in anywhere} == {photos, other}
    only_other = search(ctx, "a red circle", limit=100, min_score=-1.0, filters=SearchFilters(folder=other))
    assert {h.path.name for h in only_other} == {"red-circle-big.png", "red-circle-old.png"}
    pngs = search(ctx, "a red circle", limit=100, min_score=-1.0, filters=SearchFilters(file_types=("png",)))
    assert {h.path.suffix for h in pngs} == {".png"}
    big = search(ctx, "a red circle", limit=100, min_score=-1.0, filters=SearchFilters(min_side=200))
    assert [h.path.name for h in big] == ["red-circle-big.png"]
    dated = search(ctx, "a red circle", limit=100, min_score=-1.0,
                   filters=SearchFilters(date_from=978307200.0, date_to=1_100_000_000.0))  # 2001 – 2004
    assert [h.path.name for h in dated] == ["red-circle-old.png"]


def test_cli_index_search_and_status(shapes, tmp_path: Path, capsys) -> None:
    ctx, photos = shapes
    extra = tmp_path / "more"
    extra.mkdir()
    tiny_clip.shape_image("blue", "square", random.Random(3), size=96).save(extra / "blue-square-new.jpg")
    (extra / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    assert cli.main(["index", str(extra), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["indexed"] == 1 and summary["new"] == 2 and summary["completed"]
    assert [s["path"] for s in summary["skipped"]] == [str(extra / "broken.jpg")]

    assert cli.main(["search", "a blue square", "--folder", str(extra), "--min-score", "-1", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["path"] for h in hits] == [str(extra / "blue-square-new.jpg")]
    assert isinstance(hits[0]["score"], float)

    assert cli.main(["search", "--image", str(photos / "green-square-1.jpg"), "--limit", "3",
                     "--min-score", "-1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].endswith("green-square-1.jpg")

    assert cli.main(["library", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["indexed"] == 73 and status["skipped"] == 1 and status["model"] == "shapes"

    assert cli.main(["search"]) == 1
    assert "give some words" in capsys.readouterr().err


def test_query_parsing() -> None:
    assert parse_query("beach -people") == ("beach", ["people"])
    assert parse_query('sunset over sea -"red car" -boat') == ("sunset over sea", ["red car", "boat"])
    assert parse_query("well-known - dash") == ("well-known dash", [])
    assert split_terms(" people, cars ,,") == ["people", "cars"]


def test_search_without_a_model_says_what_to_do(ctx) -> None:
    from latentstudio.models import MissingModelError

    with pytest.raises(MissingModelError, match="models import"):
        search(ctx, "anything")


def test_no_query_with_a_filter_lists_the_folder_newest_first(shapes, capsys) -> None:
    """Browsing a folder needs no words: its pictures, newest first, the other filters applied."""
    ctx, photos = shapes
    pictures = sorted(photos.iterdir())
    for age, path in enumerate(pictures):  # a distinct time each, the last file the newest
        os.utime(path, (1_600_000_000 + age * 60, 1_600_000_000 + age * 60))
    ctx.library.scan()
    hits = library_search(ctx, filters=SearchFilters(folder=photos), limit=1000)
    assert [hit.path for hit in hits] == pictures[::-1]
    assert all(hit.matched == "listed" for hit in hits)
    assert library_search(ctx, filters=SearchFilters(folder=photos, file_types=("png",))) == []
    assert cli.main(["search", "--folder", str(photos), "--limit", "3", "--json"]) == 0
    assert [Path(h["path"]) for h in json.loads(capsys.readouterr().out)] == pictures[:-4:-1]


def test_the_lowest_cut_off_keeps_pictures_pushed_below_it_but_never_filtered_ones() -> None:
    from latentstudio.library.search import NO_CUTOFF, exact_top

    class Vectors:  # three pictures: like the query; unlike it and like the negative term; filtered out
        matrix = np.array([[1.0, 0.0, 0.0], [-0.6, 0.8, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)

        def __len__(self) -> int:
            return 3

        def scores(self, vector: np.ndarray) -> np.ndarray:
            return self.matrix @ vector

    query, negative = np.array([1.0, 0, 0], np.float32), np.array([0, 1.0, 0], np.float32)
    positions, scores = exact_top(Vectors(), query, [negative], np.array([True, True, False]), 10, NO_CUTOFF)
    assert positions.tolist() == [0, 1] and scores[1] < -1.0  # -0.6 less 0.8 for looking like "people"
    positions, _ = exact_top(Vectors(), query, [negative], None, 10, -0.9)
    assert positions.tolist() == [0, 2]
