"""Settings read from files in the exact forms AUTOMATIC1111, Forge, SD.Next, ComfyUI, InvokeAI,
Fooocus and NovelAI write them (fixtures from tests/support/tool_files.py), and written by us
so that A1111's own parser reads them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from latentstudio.imagegen.metadata import (
    a1111_params,
    exif_user_comment,
    format_a1111,
    read_metadata,
    read_reading,
)
from latentstudio.imagegen.readers.containers import decode_user_comment
from tests.support import tool_files as tf


# A faithful port of AUTOMATIC1111's modules/infotext_utils.py parse_generation_parameters (the
# part that splits the text), used as the oracle for what we write.
A1111_RE_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
A1111_RE_IMAGESIZE = re.compile(r"^(\d+)x(\d+)$")


def a1111_unquote(text: str) -> str:
    if len(text) == 0 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except Exception:
        return text


def a1111_parse_generation_parameters(x: str) -> dict[str, str]:
    res: dict[str, str] = {}
    prompt = ""
    negative_prompt = ""
    done_with_prompt = False
    *lines, lastline = x.strip().split("\n")
    if len(A1111_RE_PARAM.findall(lastline)) < 3:
        lines.append(lastline)
        lastline = ""
    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            done_with_prompt = True
            line = line[16:].strip()
        if done_with_prompt:
            negative_prompt += ("" if negative_prompt == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line
    res["Prompt"] = prompt
    res["Negative prompt"] = negative_prompt
    for k, v in A1111_RE_PARAM.findall(lastline):
        try:
            if v[0] == '"' and v[-1] == '"':
                v = a1111_unquote(v)
            m = A1111_RE_IMAGESIZE.match(v)
            if m is not None:
                res[f"{k}-1"] = m.group(1)
                res[f"{k}-2"] = m.group(2)
            else:
                res[k] = v
        except Exception:
            pass  # A1111 prints "Error parsing" and drops the key
    return res


def test_what_we_write_parses_with_a1111s_own_rules() -> None:
    prompt = "a cat, in a hat\nsecond line: with a colon"
    negative = 'blurry, "quoted"\nlowres'
    params = a1111_params(30, "DPM++ 2M Karras", 6.5, 2**64 - 1, 512, 768, "my, model: v2", 0.35, "6ce0161689")
    parsed = a1111_parse_generation_parameters(format_a1111(prompt, negative, params))
    assert parsed["Prompt"] == prompt and parsed["Negative prompt"] == negative
    assert parsed["Steps"] == "30" and parsed["Sampler"] == "DPM++ 2M" and parsed["Schedule type"] == "Karras"
    assert parsed["CFG scale"] == "6.5" and parsed["Seed"] == str(2**64 - 1)
    assert (parsed["Size-1"], parsed["Size-2"]) == ("512", "768")
    assert parsed["Model"] == "my, model: v2" and parsed["Model hash"] == "6ce0161689"
    assert parsed["Denoising strength"] == "0.35" and parsed["Version"] == "Latent Studio"


@pytest.mark.parametrize("fmt,encoding", [("JPEG", "utf-16-be"), ("WEBP", "utf-16-be"),
                                          ("JPEG", "utf-16-le"), ("JPEG", "ascii")])
def test_a1111_exif_user_comment(tmp_path: Path, fmt: str, encoding: str) -> None:
    text = tf.A1111_TEXT if encoding != "ascii" else tf.A1111_TEXT.encode("ascii", "replace").decode()
    path = tf.user_comment_file(tmp_path / f"a1111.{fmt.lower()}", text, fmt, encoding)
    meta = read_metadata(path)
    assert meta is not None and meta.source == "automatic1111" and meta.found_in == "EXIF UserComment"
    assert meta.prompt == "a lighthouse at dusk, (dramatic sky:1.2), oil painting"
    assert meta.negative_prompt == "blurry, lowres, watermark"
    assert (meta.steps, meta.guidance, meta.seed, meta.width, meta.height) == (28, 6.5, 3141592653, 512, 768)
    assert meta.scheduler == "DPM++ 2M Karras"
    assert (meta.model, meta.model_hash) == ("v1-5-pruned-emaonly", "6ce0161689")
    assert meta.extras["Lora hashes"] == "add_detail: 7c6bad76eb54"


def test_user_comment_encodings() -> None:
    assert decode_user_comment(b"UNICODE\x00" + "Zoë".encode("utf-16-be")) == "Zoë"
    assert decode_user_comment(b"UNICODE\x00" + "Zoë".encode("utf-16-le")) == "Zoë"
    assert decode_user_comment(b"ASCII\x00\x00\x00plain\x00") == "plain"
    assert decode_user_comment(b"\x00" * 8 + b"   ") == ""
    assert decode_user_comment("a string value") == "a string value"


@pytest.mark.parametrize("text,source,seed,scheduler,size", [
    (tf.A1111_TEXT, "automatic1111", 3141592653, "DPM++ 2M Karras", (512, 768)),
    (tf.FORGE_TEXT, "forge", 12345, "Euler a", (896, 1152)),
    (tf.SDNEXT_TEXT, "sdnext", 987654321, "UniPC", (1024, 1024)),
])
def test_a1111_family_png(tmp_path: Path, text: str, source: str, seed: int, scheduler: str, size: tuple) -> None:
    meta = read_metadata(tf.png_with_text(tmp_path / "x.png", {"parameters": text}))
    assert meta is not None and meta.source == source and meta.found_in == "PNG text 'parameters'"
    assert (meta.seed, meta.scheduler, (meta.width, meta.height)) == (seed, scheduler, size)
    assert meta.extras["Version"]


def test_comfyui_hires_graph_reports_the_sampler_that_made_the_image(tmp_path: Path) -> None:
    meta = read_metadata(tf.comfyui_png(tmp_path / "comfy.png", tf.comfyui_hires_graph()))
    assert meta is not None and meta.source == "comfyui"
    assert (meta.prompt, meta.negative_prompt) == ("a castle on a cliff, at dusk", "fog, blurry")
    # The second (upscaling) sampler fed VAEDecode → SaveImage: its settings are the image's.
    assert (meta.seed, meta.steps, meta.guidance, meta.scheduler) == (777, 12, 5.0, "Euler a")
    assert (meta.width, meta.height, meta.strength) == (1248, 1824, 0.45)
    assert meta.model == "juggernautXL_v9.safetensors"
    first = json.loads(meta.extras["sampler 3"])
    assert first["seed"] == 2**64 - 1  # through the reroute to the primitive node
    assert (first["steps"], first["sampler_name"], first["scheduler"]) == (25, "dpmpp_2m", "karras")
    assert meta.extras["sampler node"] == "12 (KSampler)"


def test_comfyui_64_bit_seed_through_primitive_and_reroute(tmp_path: Path) -> None:
    graph = tf.comfyui_hires_graph()
    graph["9"]["inputs"]["images"] = ["13", 0]
    graph["13"] = {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}}
    meta = read_metadata(tf.comfyui_png(tmp_path / "comfy.png", graph))
    assert meta is not None and meta.seed == 2**64 - 1 and meta.steps == 25
    assert meta.scheduler == "DPM++ 2M Karras" and (meta.width, meta.height) == (832, 1216)
    assert meta.prompt == "a castle on a cliff, at dusk"


def test_comfyui_flux_sampler_custom_advanced(tmp_path: Path) -> None:
    meta = read_metadata(tf.comfyui_png(tmp_path / "flux.png", tf.comfyui_flux_graph()))
    assert meta is not None and meta.source == "comfyui"
    assert meta.prompt == "a cozy cabin in the woods" and meta.negative_prompt == ""
    assert (meta.seed, meta.steps, meta.guidance) == (2**63 + 12345, 20, 3.5)
    assert (meta.width, meta.height, meta.scheduler, meta.model) == (1024, 768, "Euler", "flux1-dev.safetensors")
    assert meta.extras["scheduler"] == "simple"


def test_comfyui_webp_exif(tmp_path: Path) -> None:
    meta = read_metadata(tf.comfyui_webp(tmp_path / "comfy.webp", tf.comfyui_flux_graph()))
    assert meta is not None and meta.source == "comfyui" and meta.found_in == "EXIF Model 'prompt:'"
    assert meta.seed == 2**63 + 12345


def test_comfyui_cyclic_or_hostile_graph_does_not_hang(tmp_path: Path) -> None:
    graph = {"1": {"class_type": "KSampler", "inputs": {"seed": ["2", 0], "positive": ["2", 0], "steps": 5}},
             "2": {"class_type": "Reroute", "inputs": {"x": ["1", 0]}}}
    meta = read_metadata(tf.comfyui_png(tmp_path / "loop.png", graph))
    assert meta is not None and meta.seed is None and meta.steps == 5


def test_invokeai_v5_metadata(tmp_path: Path) -> None:
    meta = read_metadata(tf.invokeai_v5(tmp_path / "invoke.png"))
    assert meta is not None and meta.source == "invokeai"
    assert (meta.prompt, meta.negative_prompt, meta.seed, meta.steps) == ("a lighthouse, volumetric light", "people",
                                                                          4000000000, 30)
    assert (meta.scheduler, meta.model, meta.model_hash) == ("DPM++ 2M Karras", "juggernautXL", "3be1f5a2c4")
    assert meta.extras["app_version"] == "5.4.2"


def test_invokeai_v2_sd_metadata(tmp_path: Path) -> None:
    meta = read_metadata(tf.invokeai_v2(tmp_path / "invoke2.png"))
    assert meta is not None and meta.source == "invokeai" and meta.found_in == "PNG text 'sd-metadata'"
    assert meta.prompt == "a fantasy landscape, trending on artstation"
    assert meta.negative_prompt == "blurry, lowres"
    assert (meta.seed, meta.steps, meta.guidance, meta.width, meta.height) == (3357757885, 50, 7.5, 768, 512)
    assert (meta.scheduler, meta.model) == ("Euler a", "stable-diffusion-1.5")
    assert meta.model_hash.startswith("cc6cb271")


def test_invokeai_v1_dream_line(tmp_path: Path) -> None:
    meta = read_metadata(tf.invokeai_v1(tmp_path / "dream.png"))
    assert meta is not None and meta.found_in == "PNG text 'Dream'"
    assert (meta.prompt, meta.negative_prompt) == ("an astronaut riding a horse", "low quality")
    assert (meta.seed, meta.steps, meta.guidance, meta.width, meta.height) == (1234567, 40, 8.0, 512, 640)
    assert (meta.scheduler, meta.strength) == ("DDIM", 0.6)
    assert "init.png" not in json.dumps(meta.to_json())  # a path in metadata is not kept, let alone opened


@pytest.mark.parametrize("writer,where", [(tf.fooocus_png, "PNG text 'parameters'"), (tf.fooocus_jpeg, "EXIF UserComment")])
def test_fooocus_scheme(tmp_path: Path, writer, where: str) -> None:
    meta = read_metadata(writer(tmp_path / ("f.png" if writer is tf.fooocus_png else "f.jpg")))
    assert meta is not None and meta.source == "fooocus" and meta.found_in == where
    assert meta.prompt == "a cat wearing a space suit" and meta.negative_prompt == ""
    assert (meta.seed, meta.steps, meta.guidance, meta.width, meta.height) == (8457315208234795716, 30, 4.0, 1152, 896)
    assert meta.scheduler == "DPM++ 2M SDE Karras" and meta.model == "juggernautXL_v8Rundiffusion"
    assert meta.extras["sampler"] == "dpmpp_2m_sde_gpu" and meta.extras["performance"] == "Speed"


def test_fooocus_a1111_scheme(tmp_path: Path) -> None:
    meta = read_metadata(tf.fooocus_a1111_png(tmp_path / "f.png"))
    assert meta is not None and meta.source == "fooocus"
    assert (meta.seed, meta.scheduler, meta.width) == (8457315208234795716, "DPM++ 2M SDE Karras", 1152)


def test_novelai_png(tmp_path: Path) -> None:
    meta = read_metadata(tf.novelai_png(tmp_path / "nai.png"))
    assert meta is not None and meta.source == "novelai"
    assert meta.prompt == "1girl, looking at viewer, cherry blossoms, best quality"
    assert meta.negative_prompt == "lowres, bad anatomy, bad hands"
    assert (meta.seed, meta.steps, meta.guidance, meta.width, meta.height) == (2710364458, 28, 5.0, 832, 1216)
    assert (meta.scheduler, meta.model) == ("DPM++ 2M Karras", "Stable Diffusion XL C1E1DE52")


def test_stealth_pnginfo_novelai_and_a1111(tmp_path: Path) -> None:
    nai = read_reading(tf.novelai_stealth_png(tmp_path / "nai-stealth.png"))
    assert nai.metadata is not None and nai.metadata.source == "novelai" and nai.metadata.found_in == "stealth pixels"
    assert nai.metadata.seed == 2710364458
    a1111 = read_metadata(tf.a1111_stealth_png(tmp_path / "a1111-stealth.png"))
    assert a1111 is not None and a1111.seed == 3141592653 and a1111.found_in == "stealth pixels"
    assert read_metadata(tmp_path / "a1111-stealth.png", stealth=False) is None  # the indexer's cheap path


def test_photo_words_from_exif_and_xmp(tmp_path: Path) -> None:
    reading = read_reading(tf.photo_with_xmp(tmp_path / "harbour.jpg"))
    assert reading.metadata is None and "not settings of a tool we know" in reading.reason
    assert reading.fields["xmp:description"] == "Fishing boats moored at Whitby harbour"
    assert reading.fields["xmp:title"] == "Harbour & boats"
    assert reading.fields["xmp:subject"] == "harbour boats"
    assert reading.fields["exif:ImageDescription"] == "Evening at the harbour"


def test_camera_comment_is_not_taken_for_settings(tmp_path: Path) -> None:
    path = tf.user_comment_file(tmp_path / "camera.jpg", "Holiday, day 3: the beach", "JPEG")
    reading = read_reading(path)
    assert reading.metadata is None and reading.fields["exif:UserComment"] == "Holiday, day 3: the beach"


def test_hostile_values_are_checked(tmp_path: Path) -> None:
    graph = tf.comfyui_flux_graph()
    graph["25"]["inputs"]["noise_seed"] = 2**64  # one past the range
    graph["17"]["inputs"]["steps"] = "20; rm -rf /"
    graph["27"]["inputs"]["width"] = 10**9
    meta = read_metadata(tf.comfyui_png(tmp_path / "bad.png", graph))
    assert meta is not None and meta.seed is None and meta.steps is None and meta.width is None
    zipped = tf.png_with_text(tmp_path / "junk.png", {"parameters": "{\"a\": 1}", "Comment": "[]", "prompt": "{"})
    assert read_reading(zipped).metadata is None


def test_our_jpeg_export_round_trips(tmp_path: Path) -> None:
    text = format_a1111("ünïcode prompt", "", a1111_params(4, "Euler a", 3, 2**64 - 1, 64, 64, "tiny", None, "abcdef0123"))
    path = tmp_path / "export.jpg"
    Image.new("RGB", (64, 64)).save(path, "JPEG", exif=exif_user_comment(text))
    meta = read_metadata(path)
    assert meta is not None and (meta.prompt, meta.seed, meta.model_hash) == ("ünïcode prompt", 2**64 - 1, "abcdef0123")
