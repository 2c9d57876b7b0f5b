"""One unit for sizes (the window's decimal MB/GB, from units.format_bytes) and human names for
model formats, in the CLI as in the window."""

from __future__ import annotations

from pathlib import Path

import pytest

from latentstudio.cli import main
from latentstudio.units import format_bytes

INTERNAL_NAMES = ("sd_single_file", "open_clip_hub", "open_clip_checkpoint")


def test_cli_sizes_and_formats_read_as_the_window_shows_them(capsys: pytest.CaptureFixture[str], tiny_models,
                                                             fresh_home: Path) -> None:
    assert main(["models", "import", str(tiny_models("diffusion-tiny") / "tiny-sd1.safetensors")]) == 0
    assert main(["models", "import", str(tiny_models("clip-shapes")), "--kind", "clip"]) == 0
    assert main(["models", "list"]) == 0
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "MiB" not in out and "GiB" not in out, out
    assert not [name for name in INTERNAL_NAMES if name in out], out
    assert "single .safetensors file" in out and "open_clip folder" in out
    assert format_bytes((tiny_models("diffusion-tiny") / "tiny-sd1.safetensors").stat().st_size) in out
