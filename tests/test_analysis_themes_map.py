"""Themes and the map on the clip-shapes library: clusters named from the text side, "what's in
this folder", finite map coordinates for every picture, incremental updates, a saved layout."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from latentstudio import cli
from latentstudio.context import AppContext
from latentstudio.engine import DeviceInfo
from latentstudio.library import scan_library, submit_index
from latentstudio.library.analysis import layout as layout_module
from latentstudio.library.analysis import saved, service
from latentstudio.library.analysis.themes import vocabulary
from tests.support import tiny_clip


def test_themes_summarise_the_library_and_a_folder(shapes, tmp_path, capsys) -> None:
    ctx, photos = shapes
    service.add_tags(ctx, list(tiny_clip.COLOURS), group="colour")
    summaries = service.submit_themes(ctx).result(120)
    assert sum(s.count for s in summaries) == 72
    names = [s.name for s in summaries]
    assert len(set(names)) == len(names) and set(names) <= set(vocabulary()) | set(tiny_clip.COLOURS)
    assert all(1 <= len(s.examples) <= 3 for s in summaries)
    # Each theme is mostly one colour (the tiny model's strongest distinction).
    store = ctx.library.store
    purity = []
    for summary in summaries:
        colours = [Path(p).name.split("-")[0] for p in summary.examples]
        purity.append(max(colours.count(c) for c in set(colours)) / len(colours))
    with capsys.disabled():
        print(f"themes on clip-shapes: {len(summaries)} ({', '.join(f'{s.name} {s.count}' for s in summaries)}); "
              f"example purity {np.mean(purity):.2f}")
    assert np.mean(purity) >= 0.8
    assert any(name in tiny_clip.COLOURS for name in names)  # the user's tags name themes too

    # What's in this folder: a sub-folder's pictures only.
    sub = photos / "reds"
    sub.mkdir()
    for path in photos.glob("red-*.jpg"):
        shutil.move(str(path), sub / path.name)
    scan_library(ctx)
    submit_index(ctx).result(120)
    assert cli.main(["themes", "--folder", str(sub), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sum(t["count"] for t in listed) == 18
    assert all(Path(p).parent == sub for t in listed for p in t["examples"])
    assert cli.main(["themes", "--folder", str(tmp_path / "nowhere")]) == 1


def test_identical_pictures_share_one_theme(ctx, tiny_models, tmp_path, capsys) -> None:
    """The user's case: `themes --folder F` over nine copies of one picture listed them under
    three themes (k-means put several centres on the one point). Identical pictures share one."""
    from latentstudio.library import add_folders

    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    photos = tmp_path / "photos"
    same = photos / "same"
    same.mkdir(parents=True)
    from PIL import PngImagePlugin

    rng = random.Random(2)
    picture = tiny_clip.shape_image("blue", "square", rng, size=96)
    for k in range(9):  # the same pixels, nine files (a text chunk apiece): nine vectors, alike
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", f"copy {k}")
        picture.save(same / f"copy-{k}.png", pnginfo=info)
    add_folders(ctx, [photos])
    scan_library(ctx)
    submit_index(ctx).result(120)
    assert cli.main(["themes", "--folder", str(same), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["count"] for t in listed] == [9], listed
    # The map's colouring by theme agrees.
    points = service.submit_map(ctx).result(120)
    names = {Path(row.path).name: int(theme) for row, theme in zip(points.rows, points.theme_of)}
    assert len({names[f"copy-{k}.png"] for k in range(9)}) == 1


@pytest.mark.parametrize("noise", [0.0, 1e-6])
def test_copies_of_one_vector_get_one_theme(noise: float) -> None:
    """k-means on nine copies of one 512-d vector (bit-identical, or as alike as one picture
    encoded in two batches) put two centres on the point, and the matrix product's rounding
    split the copies between them."""
    from latentstudio.library.analysis.themes import Themes, fit

    rng = np.random.default_rng(0)
    vector = rng.normal(size=512).astype(np.float32)
    vector /= np.linalg.norm(vector)
    for others in (0, 2):
        spread = rng.normal(size=(others, 512)).astype(np.float32)
        copies = np.tile(vector, (9, 1)) + rng.normal(size=(9, 512)).astype(np.float32) * noise
        sample = np.vstack([copies, spread / np.linalg.norm(spread, axis=1, keepdims=True)]).astype(np.float32)
        centroids = fit(sample)
        themes = Themes(centroids, [f"t{i}" for i in range(len(centroids))], len(sample))
        assert len(set(themes.assign(sample[:9]).tolist())) == 1, (noise, others)
        assert len(set(themes.assign(sample[[0] * 9 + list(range(9))]).tolist())) == 1


@pytest.mark.parametrize("method", layout_module.available_methods())
def test_map_covers_every_picture_updates_and_is_saved(shapes, paths, method, capsys) -> None:
    ctx, photos = shapes
    assert cli.main(["map", "--json", "--method", method]) == 0
    points = json.loads(capsys.readouterr().out)
    assert len(points) == 72 and {p["path"] for p in points} == {str(p) for p in photos.iterdir()}
    assert all(np.isfinite([p["x"], p["y"]]).all() for p in points) and all(p["theme"] for p in points)
    first = {p["path"]: (p["x"], p["y"]) for p in points}
    xy = np.array(list(first.values()))
    assert xy.std(axis=0).min() > 0.05  # spread out, not collapsed

    # Add two pictures and remove one: the others keep their places; the new ones land by their kind.
    rng = random.Random(11)
    tiny_clip.shape_image("blue", "square", rng, size=96).save(photos / "blue-square-new.jpg")
    tiny_clip.shape_image("yellow", "circle", rng, size=96).save(photos / "yellow-circle-new.jpg")
    (photos / "green-triangle-0.jpg").unlink()
    scan_library(ctx)
    submit_index(ctx).result(120)
    updated = service.submit_map(ctx, method).result(120)
    assert updated.layout.fitted_rows == 72  # placed, not fitted again
    rows = ctx.library.store.images_by_ids(updated.layout.ids.tolist())
    now = {rows[i].path: tuple(p) for i, p in zip(updated.layout.ids.tolist(), updated.layout.xy.tolist())}
    assert len(now) == 73 and str(photos / "green-triangle-0.jpg") not in now
    assert all(np.allclose(now[p], first[p], atol=1e-5) for p in now if p in first)
    for name in ("blue-square-new.jpg", "yellow-circle-new.jpg"):
        colour = name.split("-")[0]
        mine = np.array([xy for p, xy in now.items() if Path(p).name.startswith(colour) and name not in p])
        others = np.array([xy for p, xy in now.items() if not Path(p).name.startswith(colour)])
        here = np.array(now[str(photos / name)])
        assert np.linalg.norm(mine - here, axis=1).mean() < np.linalg.norm(others - here, axis=1).mean()
    ctx.close()

    # A restart reads the saved layout: same coordinates, nothing recomputed.
    again = AppContext(paths, device=DeviceInfo.cpu("tests run on the CPU"))
    try:
        loaded = layout_module.load_map(again.library, "shapes")
        assert loaded is not None and loaded.method == updated.layout.method
        np.testing.assert_array_equal(loaded.ids, updated.layout.ids)
        np.testing.assert_array_equal(loaded.xy, updated.layout.xy)
    finally:
        again.close()


def test_a_newer_saved_file_is_refused_and_left_alone(tmp_path) -> None:
    path = tmp_path / "map.npz"
    saved.save(path, 9, ids=np.arange(3))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="newer Latent Studio"):
        saved.load(path, 1)
    assert path.read_bytes() == before
    path.write_bytes(b"not a file of ours")
    assert saved.load(path, 1) is None
