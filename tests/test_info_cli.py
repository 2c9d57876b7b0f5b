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


def test_info_prints_no_blank_lines_and_no_repeated_fields(capsys: pytest.CaptureFixture[str], fresh_home: Path,
                                                          tmp_path: Path) -> None:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    graph = {
        "3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 20, "cfg": 7, "sampler_name": "euler",
                                                   "scheduler": "normal", "denoise": 1, "positive": ["6", 0],
                                                   "negative": ["7", 0], "model": ["4", 0], "latent_image": ["5", 0]}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat\n\non a mat\n\n", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly\n", "clip": ["4", 1]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
    }
    comfy_info = PngInfo()
    comfy_info.add_text("prompt", json.dumps(graph))
    Image.new("RGB", (8, 8)).save(tmp_path / "comfy.png", pnginfo=comfy_info)
    a1111_info = PngInfo()
    a1111_info.add_text("parameters", "a lighthouse\nNegative prompt: blurry\nSteps: 17, Sampler: Euler a, "
                                      "CFG scale: 6.5, Seed: 1234, Size: 64x64, Model: m, Clip skip: 2")
    Image.new("RGB", (8, 8)).save(tmp_path / "a1111.png", pnginfo=a1111_info)
    assert main(["info", str(tmp_path / "comfy.png"), str(tmp_path / "a1111.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(line.strip() for line in lines), lines
    assert "  prompt      a cat" in lines and "              on a mat" in lines
    assert not [line for line in lines if line.startswith("  · ") and line.split(":")[0][4:].lower() in
                ("steps", "sampler", "cfg scale", "seed", "size", "model")], lines
    assert "  · Clip skip: 2" in lines  # a field with no row of its own is still shown
