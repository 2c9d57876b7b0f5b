"""PNG generation metadata: AUTOMATIC1111's format written and parsed by its rules; A1111, ComfyUI
and InvokeAI chunks read back; untrusted values checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from latentstudio.imagegen.metadata import (
    a1111_params,
    format_a1111,
    parse_a1111,
    parse_a1111_pairs,
    png_info,
    read_metadata,
)
from latentstudio.imagegen.outputs import write_new_file
from latentstudio.imagegen.request import ImageRequest, parse_size
from latentstudio.imagegen.schedulers import canonical_scheduler, from_comfyui, make_scheduler


def write_png(path: Path, chunks: dict[str, str]) -> Path:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    Image.new("RGB", (8, 8), "white").save(path, pnginfo=info)
    return path


def test_a1111_round_trip_with_multiline_prompts_and_quoted_values() -> None:
    prompt = "a cat in a hat,\nsitting on a mat: photo"
    negative = "blurry, lowres\nwatermark"
    params = a1111_params(30, "DPM++ 2M Karras", 6.5, 1234567890, 512, 768, "my, model: v2")
    text = format_a1111(prompt, negative, params)
    last_line = text.split("\n")[-1]
    assert last_line.startswith("Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5")
    assert 'Model: "my, model: v2"' in last_line  # commas and colons are JSON-quoted

    meta = parse_a1111(text)
    assert (meta.prompt, meta.negative_prompt) == (prompt, negative)
    assert (meta.steps, meta.guidance, meta.seed) == (30, 6.5, 1234567890)
    assert (meta.width, meta.height) == (512, 768)
    assert meta.scheduler == "DPM++ 2M Karras"
    assert meta.model == "my, model: v2"


def test_parses_automatic1111_sample_from_the_field() -> None:
    text = (
        "a cat in a hat\n"
        "Negative prompt: blurry, lowres\n"
        "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, "
        "Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly"
    )
    meta = parse_a1111(text)
    assert meta.source == "automatic1111"
    assert meta.prompt == "a cat in a hat"
    assert meta.negative_prompt == "blurry, lowres"
    assert (meta.steps, meta.guidance, meta.seed, meta.width, meta.height) == (20, 7.0, 1234567890, 512, 512)
    assert meta.scheduler == "DPM++ 2M Karras"
    assert meta.model == "v1-5-pruned-emaonly"
    assert meta.extras["Model hash"] == "6ce0161689"


def test_a1111_rules_last_line_needs_three_pairs_and_quotes_unescape() -> None:
    # Fewer than three `Key: value` pairs: the last line is still prompt text.
    prompt, negative, pairs = parse_a1111_pairs("a photo\nstyle: noir, mood: dark")
    assert prompt == "a photo\nstyle: noir, mood: dark"
    assert (negative, pairs) == ("", {})
    # Older A1111 writes the schedule inside the sampler name; quoted values may hold escaped quotes.
    meta = parse_a1111(
        'dog\nSteps: 12, Sampler: Euler a, CFG scale: 5, Seed: 7, Size: 640x448, '
        'Lora hashes: "a: 1, b: \\"2\\"", Denoising strength: 0.4'
    )
    assert (meta.prompt, meta.negative_prompt) == ("dog", "")
    assert meta.scheduler == "Euler a"
    assert meta.extras["Lora hashes"] == 'a: 1, b: "2"'
    assert (meta.width, meta.height, meta.strength) == (640, 448, 0.4)
    assert parse_a1111("x\nSteps: 5, Sampler: DPM++ 2M Karras, Seed: 1").scheduler == "DPM++ 2M Karras"


def test_untrusted_values_are_checked_not_used(qtbot) -> None:
    from latentstudio.ui.widgets.image_settings import ImageSettingsPanel

    meta = parse_a1111(
        "p\nSteps: 99999, Sampler: rm -rf /, CFG scale: nan-ish, Seed: -1, Size: 100000x8, Model: ../../etc/passwd"
    )
    assert meta.steps is None and meta.guidance is None and meta.seed is None
    assert meta.scheduler is None and meta.width is None
    panel = ImageSettingsPanel()
    qtbot.addWidget(panel)
    panel.seed.setText("3")
    panel.steps.setValue(9)
    panel.apply(meta)  # what the Image page does with a dropped file's settings
    request = panel.request("p", "")
    assert (request.steps, request.seed) == (9, 3)
    assert request.model_id is None  # a model name in metadata never selects a path


def test_reads_comfyui_prompt_graph(tmp_path: Path) -> None:
    graph = {
        "3": {"class_type": "KSampler", "inputs": {
            "seed": 42, "steps": 18, "cfg": 5.5, "sampler_name": "dpmpp_2m", "scheduler": "karras",
            "denoise": 1.0, "model": ["10", 0], "positive": ["6", 0], "negative": ["7", 0],
            "latent_image": ["5", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "dreamshaper_8.safetensors"}},
        "10": {"class_type": "LoraLoader", "inputs": {"model": ["4", 0], "clip": ["4", 1], "lora_name": "x"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 768, "height": 512, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a castle, at dusk", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "fog", "clip": ["4", 1]}},
    }
    path = write_png(tmp_path / "comfy.png", {"prompt": json.dumps(graph), "workflow": "{}"})
    meta = read_metadata(path)
    assert meta is not None and meta.source == "comfyui"
    assert (meta.prompt, meta.negative_prompt) == ("a castle, at dusk", "fog")
    assert (meta.seed, meta.steps, meta.guidance) == (42, 18, 5.5)
    assert (meta.width, meta.height) == (768, 512)
    assert meta.scheduler == "DPM++ 2M Karras"
    assert meta.model == "dreamshaper_8.safetensors"
    assert meta.strength is None


def test_reads_invokeai_metadata(tmp_path: Path) -> None:
    data = {
        "generation_mode": "txt2img", "positive_prompt": "a lighthouse", "negative_prompt": "people",
        "width": 1024, "height": 1024, "seed": 99, "cfg_scale": 6, "steps": 30, "scheduler": "euler_a",
        "model": {"key": "abc", "name": "juggernautXL", "base": "sdxl", "type": "main"},
    }
    meta = read_metadata(write_png(tmp_path / "invoke.png", {"invokeai_metadata": json.dumps(data)}))
    assert meta is not None and meta.source == "invokeai"
    assert (meta.prompt, meta.negative_prompt, meta.seed, meta.steps) == ("a lighthouse", "people", 99, 30)
    assert (meta.guidance, meta.width, meta.scheduler, meta.model) == (6.0, 1024, "Euler a", "juggernautXL")


def test_our_chunks_round_trip_and_win_over_parameters(tmp_path: Path) -> None:
    ours = {"prompt": "ours", "negative_prompt": "", "seed": 5, "steps": 4, "guidance": 3.5, "width": 64,
            "height": 128, "scheduler": "Euler a", "img2img": True, "strength": 0.3, "model": {"id": "tiny"}}
    path = tmp_path / "ours.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=png_info("ours\nSteps: 4, Seed: 5, Size: 64x128", ours))
    meta = read_metadata(path)
    assert meta is not None and meta.source == "latentstudio"
    assert (meta.prompt, meta.seed, meta.steps, meta.guidance) == ("ours", 5, 4, 3.5)
    assert (meta.width, meta.height, meta.scheduler, meta.strength, meta.model) == (64, 128, "Euler a", 0.3, "tiny")


def test_images_without_or_with_broken_metadata(tmp_path: Path) -> None:
    assert read_metadata(write_png(tmp_path / "plain.png", {})) is None
    assert read_metadata(write_png(tmp_path / "junk.png", {"prompt": "{not json", "invokeai_metadata": "[]"})) is None
    jpeg = tmp_path / "photo.jpg"
    Image.new("RGB", (8, 8)).save(jpeg)
    assert read_metadata(jpeg) is None
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(ValueError, match="not a readable image"):
        read_metadata(tmp_path / "broken.png")


def test_output_names_never_collide(tmp_path: Path) -> None:
    written = [
        write_new_file(tmp_path, 7, "A cat / in a hat?", lambda p: p.write_bytes(b"x")) for _ in range(3)
    ]
    assert len({p.name for p in written}) == 3
    assert all(p.parent.parent == tmp_path and p.name.endswith("-7-a-cat-in-a-hat.png") for p in written)

    def fail(path: Path) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_new_file(tmp_path, 8, "x", fail)
    assert not list(tmp_path.rglob("*-8-x.png"))  # no empty file left behind


def test_request_validation_messages(tmp_path: Path) -> None:
    assert ImageRequest("x", scheduler="euler A").validated().scheduler == "Euler a"
    for bad, message in [
        (dict(steps=0), "steps"), (dict(width=100), "multiple of 8"), (dict(seed=2**64), "seed"),
        (dict(scheduler="warp"), "unknown scheduler"), (dict(count=0), "count"), (dict(guidance=-1), "guidance"),
    ]:
        with pytest.raises(ValueError, match=message):
            ImageRequest("x", **bad).validated()
    with pytest.raises(FileNotFoundError):
        ImageRequest("x", init_image=tmp_path / "missing.png").validated()
    assert parse_size("640x480") == (640, 480)
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_size("big")


def test_blank_seed_becomes_recorded_consecutive_seeds() -> None:
    specs = ImageRequest("x", count=3).validated().images()
    assert [(s.seed - specs[0].seed) % 2**32 for s in specs] == [0, 1, 2]
    assert [s.seed for s in ImageRequest("x", seed=10, count=2).images()] == [10, 11]


def test_schedulers_build_from_a_model_config() -> None:
    base = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
            "num_train_timesteps": 1000, "prediction_type": "v_prediction"}
    karras = make_scheduler("DPM++ 2M Karras", base)
    assert type(karras).__name__ == "DPMSolverMultistepScheduler"
    assert karras.config.use_karras_sigmas and karras.config.prediction_type == "v_prediction"
    assert type(make_scheduler("Euler a", base)).__name__ == "EulerAncestralDiscreteScheduler"
    assert make_scheduler("LCM", base).config.timestep_spacing == "trailing"
    leading = {**base, "timestep_spacing": "leading"}
    assert make_scheduler("Euler a", leading, steps=20).config.timestep_spacing == "leading"
    assert make_scheduler("Euler a", leading, steps=1).config.timestep_spacing == "trailing"  # Turbo-style
    assert canonical_scheduler("dpm++ 2m  karras") == "DPM++ 2M Karras"
    assert from_comfyui("euler", "karras") == "Euler"


def test_latent_preview_is_the_linear_approximation() -> None:
    import numpy as np
    import torch

    from latentstudio.imagegen.preview import SD_LATENT_RGB, SDXL_LATENT_RGB, latents_to_rgb

    latents = torch.randn(2, 4, 12, 20, generator=torch.Generator().manual_seed(0))
    for variant, table in (("sd1", SD_LATENT_RGB), ("sdxl", SDXL_LATENT_RGB)):
        expected = np.clip((np.tensordot(latents[0].numpy(), table, axes=([0], [0])) + 1) * 127.5, 0, 255)
        preview = latents_to_rgb(latents, variant)
        assert preview.shape == (12, 20, 3) and preview.dtype == np.uint8
        assert np.abs(preview.astype(int) - expected.astype(np.uint8).astype(int)).max() <= 1
