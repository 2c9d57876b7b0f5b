"""Tags in words on the clip-shapes library: colour and shape tags on pictures the model never
saw, groups assign one member, corrections stick across a restart, tags filter searches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from latentstudio import cli
from latentstudio.context import AppContext
from latentstudio.engine import DeviceInfo
from latentstudio.library.analysis import service
from latentstudio.library.store import analysis_tables as tables
from latentstudio.library.analysis.tags import assign, split_point, suggested_tags
from tests.support import tiny_clip


def _tagged(ctx, label: str) -> set[str]:
    store = ctx.library.store
    rows = store.images_by_ids([i for i, _ in tables.tagged_images(store, tables.tag_by_label(store, label).id)])
    return {Path(r.path).name for r in rows.values()}


def _precision_recall(ctx, photos: Path, label: str, prefix: str, leave_out=frozenset()) -> tuple[float, float]:
    tagged = _tagged(ctx, label) - leave_out
    truth = {p.name for p in photos.glob(prefix + "*")} - leave_out
    return len(tagged & truth) / max(1, len(tagged)), len(tagged & truth) / len(truth)


def _accuracy(ctx, photos: Path, labels, part: int) -> tuple[float, int]:
    """Share of pictures whose tags among `labels` are exactly their own class part; pictures with
    more than one of them."""
    right = several = 0
    names = sorted(p.name for p in photos.iterdir())
    tagged = {label: _tagged(ctx, label) for label in labels}
    for name in names:
        have = [label for label in labels if name in tagged[label]]
        several += len(have) > 1
        right += have == [name.split("-")[part]]
    return right / len(names), several


def test_colour_and_shape_tags_on_unseen_pictures(shapes, capsys) -> None:
    ctx, photos = shapes
    colours, figures = list(tiny_clip.COLOURS), list(tiny_clip.SHAPES)
    service.add_tags(ctx, colours, group="colour")
    service.add_tags(ctx, figures, group="shape")
    service.add_tags(ctx, ["blue picture"])  # a tag on its own: its calibrated threshold alone decides
    # A finer tag, helped by two example pictures.
    service.add_tags(ctx, ["red circle"], examples=[photos / "red-circle-0.jpg", photos / "red-circle-1.jpg"])
    report = service.submit_tag_update(ctx).result(120)
    assert sorted(report.calibrated) == sorted(colours + figures + ["blue picture", "red circle"])
    colour_accuracy, several = _accuracy(ctx, photos, colours, 0)
    shape_accuracy, several_shapes = _accuracy(ctx, photos, figures, 1)
    assert several == several_shapes == 0  # a group assigns at most one member
    alone = _precision_recall(ctx, photos, "blue picture", "blue-")
    examples = {"red-circle-0.jpg", "red-circle-1.jpg"}
    fine = _precision_recall(ctx, photos, "red circle", "red-circle-", leave_out=examples)
    store = ctx.library.store
    ranked = store.images_by_ids([i for i, _ in tables.tagged_images(store, tables.tag_by_label(store, "red circle").id)])
    best = [Path(ranked[i].path).name for i, _ in tables.tagged_images(store, tables.tag_by_label(store, "red circle").id)]
    best = [name for name in best if name not in examples][:4]
    with capsys.disabled():
        print(f"tag accuracy on 72 unseen pictures: colour {colour_accuracy:.3f}, shape {shape_accuracy:.3f}; "
              f"'blue picture' alone: precision {alone[0]:.2f} recall {alone[1]:.2f}; "
              f"'red circle' with 2 examples: precision {fine[0]:.2f} recall {fine[1]:.2f}, top 4 {best}")
    # The tiny model tells colours apart far better than shapes (its search precision is alike).
    assert colour_accuracy >= 0.9 and shape_accuracy >= 0.7
    assert alone[0] >= 0.9 and alone[1] >= 0.6
    assert fine[1] == 1.0 and all(name.startswith("red-circle-") for name in best)  # examples lead the ranking

    assert cli.main(["tag", "list", "--json"]) == 0
    listed = {t["label"]: t for t in json.loads(capsys.readouterr().out)}
    assert set(listed) == set(colours + figures + ["blue picture", "red circle"])
    assert listed["red"]["group"] == "colour" and 12 <= listed["red"]["count"] <= 24
    assert isinstance(listed["red"]["threshold"], float)

    # `search --tag` alone lists the tagged pictures; with words it filters the ranking.
    assert cli.main(["search", "--tag", "blue", "--limit", "100", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert {Path(h["path"]).name for h in hits} == _tagged(ctx, "blue")
    assert all("blue" in h["tags"] for h in hits)
    assert cli.main(["search", "a circle", "--tag", "red", "--min-score", "-1", "--limit", "5", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and all(Path(h["path"]).name in _tagged(ctx, "red") for h in hits)


def test_a_group_assigns_exactly_one_member(shapes) -> None:
    ctx, photos = shapes
    service.add_tags(ctx, list(tiny_clip.COLOURS), group="colour")
    service.submit_tag_update(ctx).result(120)
    store = ctx.library.store
    per_image: dict[int, int] = {}
    for label in tiny_clip.COLOURS:
        for image_id, _ in tables.tagged_images(store, tables.tag_by_label(store, label).id):
            per_image[image_id] = per_image.get(image_id, 0) + 1
    # Never two colours on one picture. A picture whose own colour scores below the library's
    # average for it gets none (the group's cut); the tiny model misreads a colour now and then
    # (colour accuracy ~0.99 above), and how often depends on the machine that trained it.
    assert set(per_image.values()) == {1}
    assert len(per_image) >= 0.95 * 72


def test_a_correction_sticks_across_a_restart_and_new_pictures_are_tagged(shapes, paths, tmp_path) -> None:
    import random

    ctx, photos = shapes
    service.add_tags(ctx, ["red", "blue"], group="colour")
    service.submit_tag_update(ctx).result(120)
    picture = photos / "red-circle-0.jpg"
    assert "red-circle-0.jpg" in _tagged(ctx, "red")
    service.mark_tag(ctx, picture, "red", tables.REJECTED)
    wrong = photos / "green-square-0.jpg"
    service.mark_tag(ctx, wrong, "blue", tables.CONFIRMED)
    service.submit_tag_update(ctx).result(120)
    assert "red-circle-0.jpg" not in _tagged(ctx, "red")
    assert "green-square-0.jpg" in _tagged(ctx, "blue") and "green-square-0.jpg" not in _tagged(ctx, "red")
    ctx.close()

    # A new process: the marks are in the database; a new picture is tagged incrementally.
    again = AppContext(paths, device=DeviceInfo.cpu("tests run on the CPU"))
    try:
        from latentstudio.library import scan_library, submit_index

        tiny_clip.shape_image("red", "square", random.Random(77), size=96).save(photos / "red-square-new.jpg")
        scan_library(again)
        submit_index(again).result(120)
        report = service.submit_tag_update(again).result(120)
        assert report.calibrated == [] and report.images_scored == 1
        assert "red-circle-0.jpg" not in _tagged(again, "red")
        assert "green-square-0.jpg" in _tagged(again, "blue")
        assert "red-square-new.jpg" in _tagged(again, "red")
    finally:
        again.close()


def test_cli_tag_add_list_remove_and_errors(shapes, capsys) -> None:
    ctx, photos = shapes
    assert cli.main(["tag", "add", "red", "blue", "--group", "colour",
                     "--example", str(photos / "red-square-1.jpg")]) == 0
    capsys.readouterr()
    store = ctx.library.store
    assert tables.example_paths(store, tables.tag_by_label(store, "red").id) == [str(photos / "red-square-1.jpg")]
    assert cli.main(["tag", "add", "red"]) == 1
    assert "already a tag" in capsys.readouterr().err
    assert cli.main(["tag", "add", "green", "--example", str(photos / "missing.jpg")]) == 1
    assert "no such example" in capsys.readouterr().err
    assert cli.main(["tag", "add", "green", "Blue"]) == 1  # one label taken: none is added
    capsys.readouterr()
    assert [t.label for t in tables.tags(store)] == ["blue", "red"]  # nothing half-added
    assert cli.main(["tag", "list"]) == 0
    out = capsys.readouterr().out
    assert "red" in out and "colour" in out
    assert cli.main(["tag", "remove", "red"]) == 0
    assert cli.main(["tag", "remove", "red"]) == 1
    assert "no tag 'red'" in capsys.readouterr().err
    assert cli.main(["tag", "add", "--suggested"]) == 0
    assert len(tables.tags(store)) == 1 + len(suggested_tags())


def test_assignment_rules() -> None:
    ids = np.array([10, 11, 12])
    tag_list = [tables.Tag(1, "a", "g", 0.0, None), tables.Tag(2, "b", "g", 0.0, None), tables.Tag(3, "c", None, 0.5, None)]
    calibration = [{"threshold": 1.0}] * 3
    scores = np.array([[2.0, 3.0, 1.2], [0.0, 0.5, 2.0], [1.5, 0.0, 0.0]], dtype=np.float32)
    got = {(t, i) for t, i, _ in assign(ids, scores, tag_list, calibration, {})}
    assert got == {(2, 10), (3, 11), (1, 12)}  # the group keeps b over a; c needs 1.5 with its adjustment
    marked = {(1, 10): tables.CONFIRMED, (3, 11): tables.REJECTED}
    got = {(t, i) for t, i, _ in assign(ids, scores, tag_list, calibration, marked)}
    assert got == {(1, 10), (1, 12)}
    # The cut falls between two classes of unequal size and spread, near where their densities cross.
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, 9800), rng.normal(5, 0.5, 200)])
    assert 2.8 < split_point(values) < 4.0


def test_a_tag_never_lands_on_more_than_half_of_the_pictures() -> None:
    """110 pictures whose scores form one broad class with ties at the middle: the cut is clipped
    to the cap, and the cap holds with ties (55–56 of 110 before), under a looser adjustment and
    for odd counts too."""
    from latentstudio.library.analysis.tags import MAX_SHARE, Prototype, calibrate

    rng = np.random.default_rng(3)
    for count in (110, 111, 7, 2):
        raw = rng.normal(0, 1, (1, count)).astype(np.float32)
        raw[0, : count // 3] = np.float32(np.median(raw))  # a third of the pictures tie at the median
        tag = tables.Tag(1, "broad", None, 0.0, None)
        prototype = Prototype(tag, np.zeros(4, np.float32), None, None)
        calibration = calibrate(prototype, raw, "m")
        scores = prototype.combine(raw, calibration)[:, None]
        ids = np.arange(count)
        for adjust in (0.0, -5.0):
            loose = tables.Tag(1, "broad", None, adjust, None)
            tagged = assign(ids, scores, [loose], [calibration], {})
            assert len(tagged) <= int(MAX_SHARE * count), (count, adjust, len(tagged))
        if count >= 100:
            assert len(assign(ids, scores, [tag], [calibration], {})) >= 1
