"""Robust decoding: every mode to RGB, orientation, draft mode, pixel cap, and a corpus of bad files."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentstudio.library import add_folders, submit_index
from latentstudio.library.decode import DecodeError, decode_image


def _png_with_header_size(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims a huge size (a decompression bomb) with almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: (  # noqa: E731
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
                     + chunk(b"IEND", b""))
    return path


def _jpeg_bytes(size=(64, 48), colour=(200, 40, 40), **save) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG", **save)
    return buffer.getvalue()


def test_modes_become_rgb(tmp_path: Path) -> None:
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(cmyk)
    assert decode_image(cmyk).image.mode == "RGB"

    palette = Image.new("P", (10, 10), 0)
    palette.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "palette.png", transparency=0)
    pixel = decode_image(tmp_path / "palette.png").image.getpixel((5, 5))
    assert pixel == (255, 255, 255)  # the transparent colour lands on white

    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 255, 0, 255))
    rgba.save(tmp_path / "alpha.png")
    decoded = decode_image(tmp_path / "alpha.png").image
    assert decoded.getpixel((5, 5)) == (255, 255, 255) and decoded.getpixel((0, 0)) == (0, 255, 0)

    Image.new("LA", (8, 8), (10, 0)).save(tmp_path / "la.png")
    assert decode_image(tmp_path / "la.png").image.getpixel((1, 1)) == (255, 255, 255)

    sixteen = Image.fromarray(np.full((6, 6), 65535 // 2, dtype=np.uint16))
    sixteen.save(tmp_path / "sixteen.png")
    grey = decode_image(tmp_path / "sixteen.png").image.getpixel((0, 0))
    assert 120 <= grey[0] <= 135 and grey[0] == grey[1] == grey[2]  # scaled, not clipped to white

    frames = [Image.new("RGB", (12, 12), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    first = decode_image(tmp_path / "anim.gif").image.getpixel((6, 6))
    assert first[0] > 200 and first[2] < 50


def test_exif_orientation_and_date(tmp_path: Path) -> None:
    image = Image.new("RGB", (60, 20), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 10, 20))  # white strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif.get_ifd(0x8769)[36867] = "2021:07:04 12:30:00"
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=95)
    decoded = decode_image(path)
    assert (decoded.width, decoded.height) == (20, 60)
    assert decoded.image.size == (20, 60)
    assert decoded.image.getpixel((10, 3))[0] > 200  # the strip is now at the top
    assert decoded.taken == pytest.approx(1625401800.0)


def test_draft_mode_decodes_large_jpegs_at_reduced_scale(tmp_path: Path) -> None:
    path = tmp_path / "large.jpg"
    path.write_bytes(_jpeg_bytes((2400, 1600)))
    decoded = decode_image(path, min_side=256)
    assert (decoded.width, decoded.height) == (2400, 1600)  # the real size is recorded
    assert decoded.image.size == (300, 200) or min(decoded.image.size) >= 256
    assert decoded.image.size[0] < 2400


def _bad_corpus(folder: Path) -> dict[str, str]:
    """Write files that must be skipped; returns name → expected words in the reason."""
    expected = {}
    (folder / "zero.jpg").write_bytes(b"")
    expected["zero.jpg"] = "empty"
    good = _jpeg_bytes((300, 200))
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
    expected["truncated.jpg"] = "truncated"
    (folder / "text.jpg").write_text("this is not a picture")
    expected["text.jpg"] = "not an image"
    os.symlink(folder / "gone.jpg", folder / "broken-link.jpg")
    expected["broken-link.jpg"] = "broken link"
    _png_with_header_size(folder / "bomb.png", 50_000, 50_000)
    expected["bomb.png"] = "too many pixels"
    raw = os.fsencode(str(folder)) + b"/bad-name-\xff.jpg"
    with open(raw, "wb") as fh:
        fh.write(good)
    expected[os.fsencode(str(folder / "bad-name-")).decode() + "\\xff.jpg"] = "not valid UTF-8"
    if os.geteuid() != 0:  # root can read any file, so unreadable permissions cannot be produced
        locked = folder / "locked.jpg"
        locked.write_bytes(good)
        locked.chmod(0)
        expected["locked.jpg"] = "permission denied"
    return expected


def test_bad_files_are_skipped_with_reasons_and_good_ones_indexed(ctx, tiny_models, tmp_path: Path) -> None:
    ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="tiny", link=True)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    expected = _bad_corpus(corpus)
    (corpus / "good.jpg").write_bytes(_jpeg_bytes())
    Image.new("RGBA", (30, 30), (0, 0, 255, 128)).save(corpus / "good.png")
    Image.new("P", (30, 30)).save(corpus / "good.gif")
    Image.new("RGB", (30, 30)).save(corpus / "good.webp")
    Image.new("I;16", (30, 30)).save(corpus / "good.tif")
    (corpus / "folder.jpg").mkdir()  # a folder with an image name is not a file

    add_folders(ctx, [corpus])
    library = ctx.library
    scan = library.scan()
    report = submit_index(ctx).result(120)
    assert report.encoded == 5

    skipped = dict(scan.skipped + report.skipped)
    by_name = {Path(path).name if "\\x" not in path else path: reason for path, reason in skipped.items()}
    assert set(by_name) == set(expected)
    for name, words in expected.items():
        assert words in by_name[name], (name, by_name[name])
    status = library.store.status()
    assert status["indexed"] == 5 and status["skipped"] == len(expected)

    # Re-running changes nothing and re-reports nothing as new.
    again = library.scan()
    assert again.skipped == [] and again.new == 0 and again.unchanged == 5 + len(expected)
    assert submit_index(ctx).result(60).encoded == 0


def test_decode_error_messages(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="too many pixels"):
        decode_image(_png_with_header_size(tmp_path / "big.png", 20_000, 20_000), max_pixels=10_000_000)
    with pytest.raises(DecodeError, match="disappeared|broken"):
        decode_image(tmp_path / "missing.jpg")
