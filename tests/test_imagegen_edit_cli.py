"""`latent-studio generate-image` with --mask, --outpaint and --hires-*: files, --json, notes, errors in words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from latentstudio.cli import main
from latentstudio.imagegen import read_metadata


@pytest.fixture
def installed(tiny_models: Callable[[str], Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "import", str(tiny_models("diffusion-tiny") / "diffusers"), "--id", "tiny", "--link"]) == 0
    capsys.readouterr()


@pytest.fixture
def init(tmp_path: Path) -> Path:
    path = tmp_path / "init.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(path)
    return path


def mask_file(path: Path, size: tuple[int, int], box: tuple[int, int, int, int] | None) -> Path:
    mask = Image.new("L", size, 0)
    if box is not None:
        mask.paste(255, box)
    mask.save(path)
    return path


def test_mask_flags_with_json(installed: None, init: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mask = mask_file(tmp_path / "mask.png", (40, 32), (10, 8, 30, 24))  # half the init image's size
    code = main(["generate-image", "a red circle", "--init-image", str(init), "--mask", str(mask), "--mask-blur", "2",
                 "--masked-only", "--masked-padding", "4", "--seed", "3", "--steps", "2", "--json"])
    assert code == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    image = report["images"][0]
    assert (image["width"], image["height"]) == (80, 64)
    assert image["notes"] == ["the mask (40x32) was scaled to the init image's size (80x64)"]
    assert "note: the mask (40x32) was scaled" in captured.err
    meta = read_metadata(Path(report["paths"][0]))
    assert meta is not None and (meta.mask_blur, meta.masked_only, meta.masked_padding) == (2, True, 4)


def test_outpaint_and_hires_flags(installed: None, init: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate-image", "x", "--init-image", str(init), "--outpaint", "16,0,16,8", "--steps", "2",
                 "--strength", "1", "--json"]) == 0
    image = json.loads(capsys.readouterr().out)["images"][0]
    assert (image["width"], image["height"]) == (112, 72)
    assert main(["generate-image", "x", "--hires-scale", "2", "--hires-strength", "0.6", "--steps", "2",
                 "--hires-upscaler", "latent"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert Image.open(path).size == (128, 128)
    assert "Denoising strength: 0.6, Hires upscale: 2, Hires upscaler: Latent" in Image.open(path).text["parameters"]


def test_bad_input_is_refused_in_words(
    installed: None, init: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mask = mask_file(tmp_path / "mask.png", (80, 64), (0, 0, 8, 8))
    empty = mask_file(tmp_path / "empty.png", (80, 64), None)
    cases = [
        (["--mask", str(mask)], "a mask marks what to repaint in an init image: give an init image too"),
        (["--init-image", str(init), "--mask", str(empty)], "empty.png has nothing to repaint"),
        (["--hires-scale", "2", "--hires-upscaler", "nope"], "hires upscaler 'nope': no installed model"),
        (["--init-image", str(init), "--outpaint", "16,0,16"], "is not LEFT,TOP,RIGHT,BOTTOM"),
        (["--init-image", str(init), "--outpaint", "a,b,c,d"], "is not LEFT,TOP,RIGHT,BOTTOM"),
        (["--init-image", str(init), "--mask", str(mask), "--mask-blur", "100"], "mask blur must be between 0 and 64"),
        (["--hires-scale", "9"], "hires scale must be between 1 (off) and 4"),
    ]
    for flags, message in cases:
        assert main(["generate-image", "x", "--steps", "1", *flags]) == 1, flags
        assert message in capsys.readouterr().err, flags
    assert not list((tmp_path / "home" / "outputs").rglob("*.png"))
