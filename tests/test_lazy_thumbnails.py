"""Images indexed without local decoding (cluster, import) get their thumbnail when first shown."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from latentstudio.library.scan import content_hash
from latentstudio.library.thumbnails import THUMBNAIL_SIZE, ensure_thumbnail, thumbnail_path


def test_ensure_thumbnail_makes_it_once(tmp_path: Path) -> None:
    root = tmp_path / "thumbs"
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (1200, 800), (10, 200, 30)).save(photo)
    made = ensure_thumbnail(root, photo)
    assert made == thumbnail_path(root, content_hash(photo, photo.stat().st_size))
    with Image.open(made) as thumb:
        assert max(thumb.size) == THUMBNAIL_SIZE
    stamp = made.stat().st_mtime_ns
    os.utime(made, ns=(stamp - 10**9, stamp - 10**9))
    assert ensure_thumbnail(root, photo) == made and made.stat().st_mtime_ns == stamp - 10**9  # not rewritten
    assert ensure_thumbnail(root, made) == made  # a cached thumbnail is its own
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 nope")
    assert ensure_thumbnail(root, broken) is None
    assert ensure_thumbnail(root, tmp_path / "gone.jpg") is None


def test_the_results_loader_caches_a_thumbnail_for_an_original(qtbot, tmp_path: Path) -> None:
    from functools import partial

    from latentstudio.ui.widgets.thumbnail_loader import ThumbnailLoader

    root = tmp_path / "thumbs"
    photo = tmp_path / "cluster-indexed.jpg"
    Image.new("RGB", (900, 600), (200, 30, 30)).save(photo)
    loader = ThumbnailLoader(size=160, make=partial(ensure_thumbnail, root))
    assert loader.pixmap("k", photo) is None  # starts loading
    with qtbot.waitSignal(loader.ready, timeout=10000):
        pass
    pixmap = loader.pixmap("k", photo)
    assert pixmap is not None and max(pixmap.width(), pixmap.height()) == 160
    assert thumbnail_path(root, content_hash(photo, photo.stat().st_size)).is_file()
    loader._pool.waitForDone()


def test_the_loader_reads_heic_and_avif_originals_upright(qtbot, tmp_path: Path) -> None:
    """A page whose loader has no thumbnail cache (the Map's) showed HEIC/AVIF pictures blank."""
    import pytest
    from PIL import features

    from latentstudio.image_formats import register_heif
    from latentstudio.ui.widgets.thumbnail_loader import ThumbnailLoader

    pytest.importorskip("pillow_heif")
    register_heif()
    upright = Image.new("RGB", (300, 200), (0, 0, 200))
    upright.paste((230, 0, 0), (0, 0, 150, 100))  # red top-left quarter
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned, as a phone held upright stores it
    originals = {"heic": tmp_path / "IMG_0001.HEIC"}
    if features.check("avif"):
        originals["avif"] = tmp_path / "pic.avif"
    for path in originals.values():
        upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif.tobytes(), quality=95)
    loader = ThumbnailLoader(size=160)
    for key, path in originals.items():
        assert loader.pixmap(key, path) is None
        with qtbot.waitSignal(loader.ready, timeout=10000):
            pass
        shown = loader.pixmap(key, path).toImage()
        assert (shown.width(), shown.height()) == (160, 107), key
        assert shown.pixelColor(40, 25).red() > 180 and shown.pixelColor(120, 80).blue() > 150, key
    loader._pool.waitForDone()
