"""`latent-studio generate-image`: files with metadata, --json figures, clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from latentstudio.cli import main
from latentstudio.imagegen import read_metadata


@pytest.fixture
def installed(tiny_models: Callable[[str], Path], capsys: pytest.CaptureFixture[str]) -> None:
    folder = tiny_models("diffusion-tiny") / "diffusers"
    assert main(["models", "import", str(folder), "--id", "tiny", "--link"]) == 0
    capsys.readouterr()


def test_generate_image_json(installed: None, capsys: pytest.CaptureFixture[str], fresh_home: Path) -> None:
    code = main(["generate-image", "a red circle, small", "--negative", "blue", "--seed", "9", "--steps", "2",
                 "--count", "2", "--size", "64x64", "--scheduler", "ddim", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["seeds"] == [9, 10]
    assert report["seconds"] > 0 and all(image["seconds"] > 0 for image in report["images"])
    paths = [Path(p) for p in report["paths"]]
    assert len(set(paths)) == 2 and all(p.is_file() and p.is_relative_to(fresh_home / "outputs") for p in paths)
    meta = read_metadata(paths[1])
    assert meta is not None
    assert (meta.prompt, meta.negative_prompt, meta.seed, meta.steps, meta.scheduler) == (
        "a red circle, small", "blue", 10, 2, "DDIM")


def test_generate_image_progress_and_errors(installed: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate-image", "dog", "--steps", "2", "--seed", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().endswith(".png") and Path(captured.out.strip()).is_file()
    assert "2/2" in captured.err  # the progress bar reached the last step
    assert main(["generate-image", "dog", "--size", "big"]) == 1
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    assert main(["generate-image", "dog", "--scheduler", "warp drive"]) == 1
    assert "unknown scheduler" in capsys.readouterr().err
    assert main(["generate-image", "dog", "--model", "nope"]) == 1
    assert "no installed model" in capsys.readouterr().err


def test_generate_image_without_a_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate-image", "dog"]) == 1
    assert "No image generation model is installed" in capsys.readouterr().err


@pytest.mark.parametrize("fmt,suffix", [("jpeg", ".jpg"), ("webp", ".webp")])
def test_generate_jpeg_and_webp_keep_settings_as_exif_user_comment(
    installed: None, capsys: pytest.CaptureFixture[str], fmt: str, suffix: str
) -> None:
    from PIL import Image

    from latentstudio.imagegen.metadata import read_reading

    seed = 2**64 - 2
    assert main(["generate-image", "a blue square", "--seed", str(seed), "--count", "2", "--steps", "1",
                 "--format", fmt, "--json"]) == 0
    paths = [Path(p) for p in json.loads(capsys.readouterr().out)["paths"]]
    assert [p.suffix for p in paths] == [suffix, suffix]
    assert Image.open(paths[0]).format == fmt.upper()
    first, second = (read_reading(p) for p in paths)
    assert first.metadata is not None and first.metadata.found_in == "EXIF UserComment"
    assert first.metadata.source == "latentstudio" and first.metadata.prompt == "a blue square"
    assert (first.metadata.seed, second.metadata.seed) == (seed, seed + 1)  # 2**64 - 1: the last seed there is
    assert first.fields["exif:UserComment"].startswith("a blue square\nSteps: 1, Sampler: DPM++ 2M")
