"""Incremental scanning: new, changed, deleted, moved and duplicated files; litter ignored."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentstudio.library import add_folders, submit_index
from latentstudio.library.scan import is_ignored
from latentstudio.library.store import LibraryStore


def _image(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def clip_ctx(ctx, tiny_models):
    ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="tiny", link=True)
    return ctx


def _index(ctx) -> int:
    return submit_index(ctx).result(120).encoded


def test_incremental_scan_counts_and_moves_are_not_reencoded(clip_ctx, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        _image(photos / f"p{i}.png", i)
    add_folders(clip_ctx, [photos])
    library = clip_ctx.library
    first = library.scan()
    assert (first.new, first.changed, first.moved, first.removed) == (6, 0, 0, 0)
    assert _index(clip_ctx) == 6

    _image(photos / "p0.png", 100)  # changed content
    stat = (photos / "p0.png").stat()
    os.utime(photos / "p0.png", (stat.st_atime, stat.st_mtime + 10))
    (photos / "p1.png").unlink()  # deleted
    (photos / "sub").mkdir()
    (photos / "p2.png").rename(photos / "sub" / "renamed.png")  # moved
    _image(photos / "p6.png", 6)  # new
    shutil.copy2(photos / "p3.png", photos / "copy-of-p3.png")  # same content as an indexed file
    for litter in (".hidden.png", "._p4.png", "Thumbs.db", ".DS_Store", "notes.txt", "desktop.ini"):
        (photos / litter).write_bytes(b"litter")
    (photos / ".cache").mkdir()
    _image(photos / ".cache" / "inside-hidden.png", 50)

    second = library.scan()
    assert second.new == 2  # p6 and the copy
    assert second.changed == 1
    assert second.moved == 1
    assert second.removed == 1
    assert second.unchanged == 3  # p3, p4, p5
    assert second.reused == 1  # the copy found p3's vector
    assert second.skipped == []
    # Only the new file and the changed one need the model; the move and the copy reuse vectors.
    assert _index(clip_ctx) == 2

    rows = {Path(r.path).name: r for r in library.store.images_in(library.folders()[0].id).values()}
    assert set(rows) == {"p0.png", "renamed.png", "p3.png", "copy-of-p3.png", "p4.png", "p5.png", "p6.png"}
    assert all(r.status == "ok" and r.width == 56 and r.height == 40 for r in rows.values())
    assert library.store.status()["vectors"]["tiny"] >= 7 - 1  # the copy shares p3's vector

    third = library.scan()
    assert (third.new, third.changed, third.moved, third.removed, third.unchanged) == (0, 0, 0, 0, 7)
    assert _index(clip_ctx) == 0
    # A full rescan drops vectors no image uses any more (p1's and p0's old content).
    assert library.store.status()["vectors"]["tiny"] == 6


def test_missing_folder_is_reported_not_emptied(clip_ctx, tmp_path: Path) -> None:
    photos = tmp_path / "drive"
    photos.mkdir()
    _image(photos / "a.png", 1)
    add_folders(clip_ctx, [photos])
    library = clip_ctx.library
    library.scan()
    photos.rename(tmp_path / "unplugged")
    report = library.scan()
    assert report.missing_folders == [str(photos)]
    assert report.removed == 0
    assert library.store.status()["images"] == 1


def test_folders_nest_and_persist_in_settings(ctx, tmp_path: Path) -> None:
    parent = tmp_path / "pictures"
    child = parent / "2024"
    child.mkdir(parents=True)
    _image(child / "a.png", 1)
    add_folders(ctx, [child])
    library = ctx.library
    library.scan()
    (child / "deeper").mkdir()
    with pytest.raises(ValueError, match="already in the library"):
        library.add_folder(child / "deeper")
    add_folders(ctx, [parent])  # a parent absorbs the child and keeps its images
    assert [f.path for f in library.folders()] == [parent]
    assert library.store.status()["images"] == 1
    assert ctx.settings.library_folders == [str(parent)]
    reloaded = LibraryStore(ctx.paths.library_db)
    assert [f.path for f in reloaded.folders()] == [parent]
    reloaded.close()


def test_ignored_names() -> None:
    assert is_ignored(".hidden.jpg") and is_ignored("._IMG_1.JPG") and is_ignored("Thumbs.db")
    assert not is_ignored("IMG_1.JPG")


def test_an_unchanged_rescan_keeps_the_database_version(ctx, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    _image(photos / "a.png", 1)
    add_folders(ctx, [photos])
    library = ctx.library
    library.scan()
    version = library.store.version()
    library.scan()  # nothing changed: a saved search matrix stays valid
    assert library.store.version() == version
    _image(photos / "b.png", 2)
    library.scan()
    assert library.store.version() > version


def test_a_picture_taken_out_and_put_back_is_searchable_again(
    capsys: pytest.CaptureFixture[str], clip_ctx, tmp_path: Path
) -> None:
    """Out of the folder, indexed, back in: it was left "1 waiting" for good (its vector was still
    there, so nothing encoded it, and nothing marked it indexed). Now it is decoded again and its
    stored vector reused."""
    import json

    from latentstudio.cli import main

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        _image(photos / f"p{i}.png", i)
    aside = tmp_path / "aside.png"

    def index() -> dict:
        assert main(["index", str(photos), "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    def status() -> dict:
        assert main(["library", "status", "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    assert index()["indexed"] == 4
    shutil.move(photos / "p2.png", aside)
    assert index()["removed"] == 1
    shutil.move(aside, photos / "p2.png")
    summary = index()
    assert summary["new"] == 1 and summary["reused_vectors"] == 1
    assert summary["indexed"] == 0  # nothing encoded: the vector came back by its content
    after = status()
    assert (after["indexed"], after["pending"], after["vectors"]["tiny"]) == (4, 0, 4)
    row = clip_ctx.library.store.image_by_path(str(photos / "p2.png"))
    assert row is not None and (row.width, row.height) == (56, 40)
    assert main(["search", "noise", "--json", "--min-score", "-1", "--limit", "10"]) == 0
    assert str(photos / "p2.png") in {hit["path"] for hit in json.loads(capsys.readouterr().out)}
