"""`latent-studio info IMAGE… [--json]`: what was read, from which tool, or why nothing was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from latentstudio.cli import main
from tests.support import tool_files as tf


def test_info_text_and_json(capsys: pytest.CaptureFixture[str], fresh_home: Path, tmp_path: Path) -> None:
    comfy = tf.comfyui_png(tmp_path / "comfy.png", tf.comfyui_flux_graph())
    a1111 = tf.user_comment_file(tmp_path / "a1111.jpg", tf.A1111_TEXT, "JPEG")
    photo = tf.photo_with_xmp(tmp_path / "photo.jpg")
    plain = tmp_path / "plain.png"
    plain.write_bytes(tf.png_with_text(tmp_path / "p.png", {}).read_bytes())

    assert main(["info", str(comfy), str(a1111), str(photo), str(plain)]) == 0
    out = capsys.readouterr().out
    assert f"{comfy}: ComfyUI (PNG text 'prompt')" in out
    assert f"seed        {2**63 + 12345}" in out and "sampler     Euler" in out
    assert f"{a1111}: AUTOMATIC1111 (EXIF UserComment)" in out and "model hash  6ce0161689" in out
    assert f"{photo}: nothing read: text metadata present" in out and "xmp:description" in out
    assert f"{plain}: nothing read: no generation settings stored" in out

    assert main(["info", "--json", str(a1111), str(tmp_path / "missing.png")]) == 1  # one file is missing
    found, missing = json.loads(capsys.readouterr().out)
    assert found["tool"] == "automatic1111" and found["metadata"]["seed"] == 3141592653
    assert found["metadata"]["scheduler"] == "DPM++ 2M Karras" and found["metadata"]["tool"] == "AUTOMATIC1111"
    assert missing["metadata"] is None and missing["reason"] == "file not found"
