"""Every file of a real photo folder: camera RAW (preview first), videos searchable by their
moments, XMP sidecars and embedded XMP/IPTC words and ratings, RAW+JPEG pairs and Live Photos."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentstudio import cli
from latentstudio.engine import Cancelled, EventKind, JobEvent
from latentstudio.library import SearchFilters, add_folders, submit_index
from latentstudio.library import search_library as library_search
from latentstudio.library.decode import DecodeError, decode_image
from latentstudio.library.store import LibraryStore, migrations
from latentstudio.library.video_decode import probe_video, sample_moments
from tests.support import tiny_clip
from tests.support.camera_files import iptc_jpeg, make_dng, make_video, xmp_sidecar
from tests.support.release_homes import HOMES


def search(ctx, text=None, **kwargs):
    kwargs.setdefault("min_score", -1.0)
    return library_search(ctx, text=text, **kwargs)


def shape(colour: str, kind: str, seed: int = 7, size: int = 96) -> Image.Image:
    return tiny_clip.shape_image(colour, kind, random.Random(seed), size=size)


def gradient(width: int, height: int) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    return Image.fromarray(np.concatenate([x + 0 * y, y + 0 * x, 128 + 0 * x + 0 * y], axis=2).astype(np.uint8))


# -- RAW -------------------------------------------------------------------------------------


def test_a_raw_file_is_read_from_its_embedded_preview(tmp_path: Path) -> None:
    raw = make_dng(tmp_path / "IMG_0001.dng", gradient(1600, 1200), preview=640)
    decoded = decode_image(raw, min_side=256)
    assert (decoded.width, decoded.height) == (1600, 1200)  # the sensor's size, not the preview's
    assert decoded.format == "raw"
    assert max(decoded.image.size) <= 640  # the preview's pixels (JPEG draft may reduce them further)
    assert decoded.taken == datetime(2024, 5, 17, 9, 30, tzinfo=timezone.utc).timestamp()


def test_a_raw_file_without_a_usable_preview_is_demosaiced_at_half_size(tmp_path: Path) -> None:
    raw = make_dng(tmp_path / "IMG_0002.dng", Image.new("RGB", (800, 600), (200, 40, 40)), preview=None)
    decoded = decode_image(raw, min_side=256)
    assert decoded.image.size == (400, 300)  # half size: never the full sensor
    red, green, blue = np.asarray(decoded.image, dtype=np.float32).mean(axis=(0, 1))
    assert red > green and red > blue


def test_a_portrait_raw_is_upright(tmp_path: Path) -> None:
    raw = make_dng(tmp_path / "IMG_0003.dng", gradient(800, 600), preview=800, orientation=6)
    decoded = decode_image(raw, min_side=256)
    assert (decoded.width, decoded.height) == (600, 800)
    assert decoded.image.height > decoded.image.width


def test_an_unreadable_raw_file_is_skipped_with_libraw_s_reason(tmp_path: Path) -> None:
    junk = tmp_path / "broken.cr2"
    junk.write_bytes(b"not a raw file at all" * 100)
    with pytest.raises(DecodeError, match="RAW"):
        decode_image(junk, min_side=256)


# -- videos ----------------------------------------------------------------------------------


def test_moments_follow_scene_changes_and_the_clock(tmp_path: Path) -> None:
    scenes = [(shape("red", "circle", seed=1), 2.0), (shape("blue", "square", seed=2), 2.0),
              (shape("yellow", "triangle", seed=3), 9.0)]  # cuts: new subject, new background
    video = make_video(tmp_path / "clip.mp4", scenes, fps=10, gop=10)
    info = probe_video(video)
    assert (info.width, info.height, info.codec) == (96, 96, "mpeg4")
    assert info.duration == pytest.approx(13.0, abs=0.2)
    times = [m.time for m in sample_moments(video, 64)]
    assert times[:3] == [0.0, 2.0, 4.0]  # each scene change is a moment
    assert 8.0 in times and 12.0 in times  # and at least one every 4 s of a long scene
    assert len(times) == 5


def test_a_long_video_is_visited_by_seeking_not_decoded_in_full(tmp_path: Path) -> None:
    scenes = [(shape("red", "circle", size=32), 200.0), (shape("blue", "square", size=32), 200.0)]
    video = make_video(tmp_path / "long.mp4", scenes, fps=2, gop=10)
    moments = list(sample_moments(video, 32))
    assert 40 <= len(moments) <= 48  # capped per video, spread over its whole length
    assert moments[-1].time > 380


def test_a_portrait_phone_video_is_upright(tmp_path: Path) -> None:
    video = make_video(tmp_path / "portrait.mov", [(gradient(96, 64), 1.0)], rotation=-90)
    assert (probe_video(video).width, probe_video(video).height) == (64, 96)
    (moment,) = list(sample_moments(video, 32))
    assert moment.image.height > moment.image.width


def test_broken_videos_give_their_reason(tmp_path: Path) -> None:
    video = make_video(tmp_path / "whole.mp4", [(shape("red", "circle"), 3.0)])
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(video.read_bytes()[:2000])
    junk = tmp_path / "junk.mov"
    junk.write_bytes(b"\x00" * 5000)
    for path in (truncated, junk):
        with pytest.raises(DecodeError, match="video"):
            probe_video(path)


# -- in the library --------------------------------------------------------------------------


@pytest.fixture
def camera_folder(shapes):
    """The shapes library plus a camera's and a phone's files in their own folder."""
    ctx, _ = shapes
    folder = ctx.paths.home.parent / "camera"
    folder.mkdir()
    make_dng(folder / "DSC_0100.NEF", shape("green", "triangle", size=256), preview=256)  # a RAW alone
    make_dng(folder / "IMG_0200.CR2", shape("yellow", "circle", size=256), preview=256)  # shot RAW+JPEG
    shape("yellow", "circle", size=256).save(folder / "IMG_0200.JPG", quality=92)
    shape("blue", "circle", size=128).save(folder / "IMG_0300.JPG", quality=92)  # a Live Photo
    make_video(folder / "IMG_0300.MOV", [(shape("blue", "circle", size=128), 2.0)])
    make_video(folder / "holiday.mp4", [(shape("red", "circle", seed=1), 4.0), (shape("blue", "square", seed=2), 4.0),
                                        (shape("yellow", "triangle", seed=3), 4.0)], gop=10)
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 3000)
    add_folders(ctx, [folder])
    return ctx, folder


def test_a_photo_folder_is_indexed_whole_and_videos_are_found_at_their_moment(camera_folder) -> None:
    ctx, folder = camera_folder
    scan = ctx.library.scan()
    assert scan.new == 5  # NEF, JPG+CR2 as one, JPG+MOV as one, two videos
    store = ctx.library.store
    assert store.image_by_path(str(folder / "IMG_0200.CR2")) is None
    assert store.image_by_path(str(folder / "IMG_0300.MOV")) is None
    report = submit_index(ctx).result(300)
    assert report.videos == 1 and report.moments == 3 and report.video_seconds == pytest.approx(12.0, abs=0.2)
    assert dict(report.skipped)[str(folder / "corrupt.mp4")].startswith("cannot read video")

    video = str(folder / "holiday.mp4")
    for words, start in (("blue square", 4.0), ("yellow triangle", 8.0)):
        hits = search(ctx, words, filters=SearchFilters(folder=folder))
        assert str(hits[0].path) == video, [(h.path.name, h.score) for h in hits]
        assert hits[0].kind == "video" and hits[0].time == pytest.approx(start, abs=0.01)
        assert hits[0].duration == pytest.approx(12.0, abs=0.2) and hits[0].codec == "mpeg4"
        assert hits[0].thumbnail is not None and f"-t{int(start * 1000)}" in hits[0].thumbnail.name

    by_path = {str(h.path): h for h in search(ctx, "circle", filters=SearchFilters(folder=folder), limit=10)}
    pair = by_path[str(folder / "IMG_0200.JPG")]
    assert pair.kind == "raw+jpeg" and pair.companion == folder / "IMG_0200.CR2"
    assert by_path[str(folder / "IMG_0300.JPG")].kind == "live"
    raw = search(ctx, "green triangle", filters=SearchFilters(folder=folder))[0]
    assert raw.path == folder / "DSC_0100.NEF" and raw.kind == "raw" and (raw.width, raw.height) == (256, 256)

    only_videos = search(ctx, "circle", filters=SearchFilters(file_types=("video",)))
    assert [h.path.name for h in only_videos] == ["holiday.mp4"]
    kinds = store.status()["kinds"]
    assert kinds == {"raw": 1, "video": 2, "moments": 3, "paired": 2, "rated": 0}

    # A RAW from elsewhere is an example to search by (decoded from its preview, then encoded).
    example = make_dng(folder.parent / "elsewhere.ARW", shape("green", "triangle", seed=11, size=256), preview=256)
    similar = search(ctx, image=example, filters=SearchFilters(folder=folder))
    assert similar[0].path == folder / "DSC_0100.NEF"


def test_a_cancelled_video_resumes_at_its_next_moment(camera_folder, monkeypatch) -> None:
    ctx, folder = camera_folder
    for name in ("DSC_0100.NEF", "IMG_0200.CR2", "IMG_0200.JPG", "IMG_0300.JPG", "IMG_0300.MOV", "corrupt.mp4"):
        (folder / name).unlink()
    ctx.library.scan()
    submit_index(ctx).result(300)  # the shapes library is indexed already: only the video waits… now none
    store = ctx.library.store
    row = store.image_by_path(str(folder / "holiday.mp4"))
    with store.transaction() as db:  # as if the run had been killed after its first moment
        db.execute("DELETE FROM vectors WHERE hash = ?", (row.hash,))
        db.execute("DELETE FROM moments WHERE hash = ? AND time > 0", (row.hash,))
        db.execute("UPDATE images SET status = 'pending' WHERE id = ?", (row.id,))

    def cancel_once_the_video_starts(event: JobEvent) -> None:
        if event.kind is EventKind.PROGRESS and "video" in event.payload.message:
            event.handle.cancel()

    # The cancel lands at the first checkpoint: after the next moment's batch (of one) is committed.
    with pytest.raises(Cancelled):
        submit_index(ctx, batch_size=1, on_event=cancel_once_the_video_starts).result(120)
    assert store.image_by_path(str(folder / "holiday.mp4")).status == "pending"
    assert sorted(store.moments_of("shapes", row.hash)) == [0.0, 4.0]
    resumed = submit_index(ctx, batch_size=1).result(120)
    assert resumed.videos == 1 and resumed.moments == 1  # the stored moments were not encoded again
    assert sorted(store.moments_of("shapes", row.hash)) == [0.0, 4.0, 8.0]
    assert store.image_by_path(str(folder / "holiday.mp4")).status == "ok"


# -- words, ratings, sidecars ----------------------------------------------------------------


def test_sidecars_and_embedded_metadata_are_words_and_ratings(shapes, capsys) -> None:
    ctx, _ = shapes
    folder = ctx.paths.home.parent / "edited"
    folder.mkdir()
    shape("red", "square").save(folder / "DSC_1.jpg")
    (folder / "DSC_1.xmp").write_text(xmp_sidecar(["lighthouse", "Brittany"], rating=4, label="Red",
                                                  hierarchical=["Places|France|Finistere"]))
    shape("red", "square", seed=8).save(folder / "DSC_2.jpg")
    (folder / "DSC_2.jpg.xmp").write_text(xmp_sidecar(title="Harbour at dusk", rating=2))  # darktable's name
    shape("red", "square", seed=9).save(folder / "DSC_3.jpg", xmp=xmp_sidecar(["windmill"], rating=5).encode())
    iptc_jpeg(folder / "DSC_4.jpg", shape("red", "square", seed=10), ["quayside"], caption="nets drying")
    sidecar_bytes = (folder / "DSC_1.xmp").read_bytes()
    add_folders(ctx, [folder])
    ctx.library.scan()
    submit_index(ctx).result(120)

    def found(text: str) -> list[str]:
        return [h.path.name for h in search(ctx, text, filters=SearchFilters(folder=folder)) if h.matched != "picture"]

    assert found("lighthouse") == ["DSC_1.jpg"]
    assert found("finistere") == ["DSC_1.jpg"]  # hierarchical keywords, every level
    assert found("harbour") == ["DSC_2.jpg"]
    assert found("windmill") == ["DSC_3.jpg"]  # embedded XMP
    assert found("quayside") == ["DSC_4.jpg"] and found("nets") == ["DSC_4.jpg"]  # IPTC

    def rated(stars: int) -> list[str]:
        hits = search(ctx, filters=SearchFilters(folder=folder, min_rating=stars), limit=10)
        return sorted(h.path.name for h in hits)

    assert rated(4) == ["DSC_1.jpg", "DSC_3.jpg"]
    assert rated(2) == ["DSC_1.jpg", "DSC_2.jpg", "DSC_3.jpg"]
    row = ctx.library.store.image_by_path(str(folder / "DSC_1.jpg"))
    assert (row.rating, row.label) == (4, "Red")

    # A changed sidecar changes the words and the rating; the pixels are not read again.
    (folder / "DSC_1.xmp").write_text(xmp_sidecar(["harbour"], rating=1))
    os.utime(folder / "DSC_1.xmp", (row.sidecar_mtime + 10, row.sidecar_mtime + 10))
    scan = ctx.library.scan()
    assert scan.changed == 0 and scan.new == 0
    assert submit_index(ctx).result(120).total == 0
    assert found("lighthouse") == [] and sorted(found("harbour")) == ["DSC_1.jpg", "DSC_2.jpg"]
    assert rated(4) == ["DSC_3.jpg"]
    assert (folder / "DSC_2.jpg.xmp").read_text().startswith("<x:xmpmeta")  # never written
    assert sidecar_bytes != (folder / "DSC_1.xmp").read_bytes()  # (only the test rewrote it)

    assert cli.main(["search", "--min-rating", "5", "--folder", str(folder), "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [(Path(h["path"]).name, h["rating"], h["kind"]) for h in hits] == [("DSC_3.jpg", 5, "photo")]


def test_cli_search_json_carries_kind_and_time_and_status_counts(camera_folder, capsys) -> None:
    ctx, folder = camera_folder
    ctx.close()
    assert cli.main(["index"]) == 0
    capsys.readouterr()
    assert cli.main(["search", "yellow triangle", "--folder", str(folder), "--json", "--min-score", "-1"]) == 0
    first = json.loads(capsys.readouterr().out)[0]
    assert (Path(first["path"]).name, first["kind"], first["time"]) == ("holiday.mp4", "video", 8.0)
    assert cli.main(["library", "status"]) == 0
    assert "camera RAW 1 · videos 2 (3 moments) · paired with a RAW or a Live Photo video 2" in capsys.readouterr().out


# -- the stored format -----------------------------------------------------------------------


def test_the_previous_release_s_library_gains_ratings_videos_and_pairs(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    shutil.copy(HOMES / "0.2.0" / "library.sqlite3", path)
    with sqlite3.connect(path) as db:
        before = db.execute("SELECT id, path, hash, status FROM images ORDER BY id").fetchall()
        released = db.execute("PRAGMA user_version").fetchone()[0]
        assert released < len(migrations.MIGRATIONS)
    store = LibraryStore(path)
    try:
        db = store.connection()
        assert db.execute("SELECT id, path, hash, status FROM images ORDER BY id").fetchall() == before
        assert db.execute("SELECT COUNT(*) FROM images WHERE words_read = 1").fetchone()[0] == 0  # read again
        assert db.execute("SELECT COUNT(*) FROM moments").fetchone()[0] == 0
        row = store.image_by_path(before[0][1])
        assert (row.rating, row.companion, row.duration) == (None, None, None)
    finally:
        store.close()
    assert (tmp_path / f"library.sqlite3.format-{released}.bak").exists()
