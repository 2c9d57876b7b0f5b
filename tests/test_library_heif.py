"""HEIC/HEIF photos (as iPhones store them), written here with pillow-heif: decoded with EXIF
orientation and date, drafted from the embedded thumbnail, indexed and found by their picture."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentstudio.image_formats import register_heif
from latentstudio.library import add_folders, search_library, submit_index
from latentstudio.library import decode as decode_module
from latentstudio.library.decode import HEIF_MISSING, DecodeError, decode_image
from tests.support import tiny_clip

pytest.importorskip("pillow_heif")


def write_heic(path: Path, image: Image.Image, orientation: int = 1, thumbnail: int = 0) -> Path:
    register_heif()
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[36867] = "2023:05:06 07:08:09"
    if thumbnail:
        image.info["thumbnails"] = [thumbnail]
    image.save(path, "HEIF", exif=exif, quality=90)
    return path


def test_heic_orientation_date_and_format(tmp_path: Path) -> None:
    image = Image.new("RGB", (64, 24), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 12, 24))  # white strip on the left
    decoded = decode_image(write_heic(tmp_path / "IMG_0001.HEIC", image, orientation=6))
    assert decoded.format == "heif"
    assert (decoded.width, decoded.height) == (24, 64) and decoded.image.size == (24, 64)
    assert decoded.image.getpixel((12, 3))[0] > 200 and decoded.image.getpixel((12, 60))[0] < 60  # strip on top
    assert decoded.taken == pytest.approx(1683356889.0)
    upright = decode_image(write_heic(tmp_path / "upright.heic", image))
    assert upright.image.size == (64, 24) and upright.image.getpixel((3, 12))[0] > 200


def test_heic_draft_decodes_the_embedded_thumbnail(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (756, 1008, 3), dtype=np.uint8))
    path = write_heic(tmp_path / "large.heic", photo, thumbnail=320)
    decoded = decode_image(path, min_side=224)
    assert (decoded.width, decoded.height) == (1008, 756)  # the real size is recorded
    assert decoded.image.size == (320, 240)
    assert decode_image(path).image.size == (1008, 756)


def test_heif_missing_only_when_the_plugin_is_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "not-really.heic"
    fake.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64)
    with pytest.raises(DecodeError) as installed:
        decode_image(fake)
    assert str(installed.value) != HEIF_MISSING  # the plugin is here: the file itself is bad
    monkeypatch.setattr(decode_module, "register_heif", lambda: False)
    monkeypatch.setattr(Image, "OPEN", {k: v for k, v in Image.OPEN.items() if k != "HEIF"})
    monkeypatch.setattr(Image, "ID", [i for i in Image.ID if i != "HEIF"])
    with pytest.raises(DecodeError, match="HEIF support missing"):
        decode_image(write_heic(tmp_path / "real.heic", Image.new("RGB", (16, 16))))


def test_avif_keeps_working(tmp_path: Path) -> None:
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF codec")
    Image.new("RGB", (32, 16), (200, 10, 10)).save(tmp_path / "x.avif", quality=90)
    decoded = decode_image(tmp_path / "x.avif")
    assert decoded.format == "avif" and decoded.image.getpixel((16, 8))[0] > 150


def test_heic_photo_is_indexed_and_found_by_its_own_picture(ctx, tiny_models, tmp_path: Path) -> None:
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = random.Random(7)
    for colour, shape in tiny_clip.classes():
        tiny_clip.shape_image(colour, shape, rng, size=96).save(photos / f"{colour}-{shape}.jpg", quality=92)
    picture = tiny_clip.shape_image("yellow", "triangle", random.Random(99), size=96)
    # Stored sideways with EXIF orientation 8, as a phone held on its side would.
    heic = write_heic(photos / "IMG_4242.HEIC", picture.transpose(Image.Transpose.ROTATE_270), orientation=8)
    example = tmp_path / "example.png"
    picture.save(example)
    add_folders(ctx, [photos])
    ctx.library.scan()
    report = submit_index(ctx).result(120)
    assert report.encoded == len(tiny_clip.classes()) + 1 and not report.skipped
    hits = search_library(ctx, image=example, limit=3, min_score=-1.0)
    assert hits[0].path == heic and hits[0].score > 0.95
    assert (hits[0].width, hits[0].height) == (96, 96)


def test_every_indexed_type_can_be_chosen_and_filtered(qtbot, ctx, tiny_models, tmp_path: Path, capsys) -> None:
    """HEIC/HEIF and AVIF were indexed but missing from Choose image… and the Type filter: both
    now come from the library's own list of types, and each entry finds its own files."""
    from PIL import features

    from latentstudio.library import SearchFilters
    from latentstudio.library.scan import IMAGE_SUFFIXES, LIBRARY_TYPES, file_dialog_filter
    from latentstudio.ui.widgets.search_filters import SearchFiltersPanel

    patterns = file_dialog_filter()
    assert all(f"*{suffix}" in patterns and f"*{suffix.upper()}" in patterns for suffix in IMAGE_SUFFIXES)
    assert "*.cr2" not in patterns and "*.CR2" in file_dialog_filter(raw=True)  # RAW where the decoder reads it
    panel = SearchFiltersPanel(0.2)
    qtbot.addWidget(panel)
    offered = {panel.file_type.itemText(i): i for i in range(panel.file_type.count())}
    assert {"HEIC/HEIF", "AVIF", "JPEG", "Camera RAW", "Video"} <= set(offered)
    assert len(offered) == len(LIBRARY_TYPES) + 1  # and "Any type"

    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    photos = tmp_path / "photos"
    photos.mkdir()
    picture = tiny_clip.shape_image("red", "circle", random.Random(1), size=96)
    written = {"HEIC/HEIF": write_heic(photos / "IMG_0001.HEIC", picture),
               "JPEG": photos / "DSC_0002.JPG", "PNG": photos / "shot.png"}
    picture.save(written["JPEG"], quality=90)
    picture.save(written["PNG"])
    if features.check("avif"):
        written["AVIF"] = photos / "pic.avif"
        picture.save(written["AVIF"], quality=90)
    add_folders(ctx, [photos])
    ctx.library.scan()
    assert submit_index(ctx).result(120).encoded == len(written)
    for label, path in written.items():
        panel.file_type.setCurrentIndex(offered[label])
        filters: SearchFilters = panel.filters()
        hits = search_library(ctx, text="a red circle", filters=filters, min_score=-1.0, words=False)
        assert [hit.path for hit in hits] == [path], label
    from latentstudio.cli import main

    capsys.readouterr()
    assert main(["search", "a red circle", "--type", "HEIC", "--min-score", "-1", "--no-words", "--json"]) == 0
    assert [Path(hit["path"]) for hit in json.loads(capsys.readouterr().out)] == [written["HEIC/HEIF"]]
