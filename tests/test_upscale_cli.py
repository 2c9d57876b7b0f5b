"""`latent-studio upscale`: --json paths as generate-image prints them, progress, errors, Ctrl-C."""

from __future__ import annotations

import _thread
import json
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from PIL import Image

from latentstudio.cli import main
from latentstudio.engine.engine import THREAD_NAME
from latentstudio.imagegen import upscale
from latentstudio.imagegen.metadata import read_metadata


@pytest.fixture
def installed(tiny_models: Callable[[str], Path], capsys: pytest.CaptureFixture[str]) -> None:
    model = tiny_models("upscaler-tiny") / "compact-x2.safetensors"
    assert main(["models", "import", str(model), "--id", "compact"]) == 0
    assert "Imported upscaler model compact (upscaler (spandrel)" in capsys.readouterr().out


def _photo(folder: Path, name: str, size: tuple[int, int] = (48, 40)) -> Path:
    rng = np.random.default_rng(len(name))
    path = folder / name
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def test_upscale_json_lists_paths_as_generate_image_does(
    installed: None, tmp_path: Path, fresh_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _photo(tmp_path, "one.png"), _photo(tmp_path, "two.png", (30, 20))
    assert main(["upscale", str(first), str(second), "--model", "compact", "--tile", "32", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    paths = [Path(p) for p in report["paths"]]
    assert [image["path"] for image in report["images"]] == report["paths"]
    assert all(p.is_file() and p.is_relative_to(fresh_home / "outputs") for p in paths)
    assert [(i["width"], i["height"], i["scale"], i["model"]) for i in report["images"]] == [
        (96, 80, 2.0, "compact"), (60, 40, 2.0, "compact")]
    assert report["seconds"] > 0
    assert read_metadata(paths[0]).extras["Upscaler"] == "compact"


def test_upscale_prints_progress_and_the_path(installed: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upscale", str(_photo(tmp_path, "p.png")), "--tile", "32", "--scale", "2"]) == 0
    captured = capsys.readouterr()
    assert Path(captured.out.strip()).is_file() and captured.out.strip().endswith("-x2-p.png")
    assert "4/4" in captured.err  # the bar reached the last tile


def test_upscale_errors_are_words(installed: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upscale", str(tmp_path / "missing.png")]) == 1
    assert "missing.png does not exist" in capsys.readouterr().err
    assert main(["upscale", str(_photo(tmp_path, "p.png")), "--model", "nope"]) == 1
    assert "no installed model with id 'nope'" in capsys.readouterr().err
    not_a_picture = tmp_path / "notes.png"
    not_a_picture.write_text("hello")
    assert main(["upscale", str(not_a_picture)]) == 1
    assert "notes.png cannot be read" in capsys.readouterr().err


def test_upscale_without_an_upscaler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upscale", str(_photo(tmp_path, "p.png"))]) == 1
    assert "No upscaler model is installed" in capsys.readouterr().err


def test_ctrl_c_stops_between_tiles_and_writes_nothing(
    installed: None, tmp_path: Path, fresh_home: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    pasted: list[int] = []
    paste = upscale.PreviewCanvas.paste

    def interrupt_on_first_tile(self: Any, box: Any, result: Any) -> Any:
        if threading.current_thread().name == THREAD_NAME:
            pasted.append(1)
            if len(pasted) == 1:
                _thread.interrupt_main()  # what Ctrl-C does to the main thread
                time.sleep(0.5)  # hold the engine on this tile while the main thread reacts
        return paste(self, box, result)

    monkeypatch.setattr(upscale.PreviewCanvas, "paste", interrupt_on_first_tile)
    assert main(["upscale", str(_photo(tmp_path, "big.png", (160, 120))), "--tile", "32"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert len(pasted) < 20  # 20 tiles in all: it stopped at a checkpoint between them
    assert not list((fresh_home / "outputs").rglob("*.png"))
