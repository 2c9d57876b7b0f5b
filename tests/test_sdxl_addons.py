"""SDXL's two text encoders: A1111 prompt encoding, a diffusers-layout SDXL LoRA and a clip_l/clip_g
embedding on a tiny SDXL pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from latentstudio.context import AppContext
from latentstudio.imagegen import ImageRequest, submit_images
from latentstudio.imagegen.adapters import AddonError
from latentstudio.imagegen.prompt_encoding import encode_prompts
from tests.support.tiny_sdxl import build_sdxl_pipeline, write_sdxl_addons

TIMEOUT = 300


@pytest.fixture(scope="module")
def sdxl_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-sdxl")
    pipe = build_sdxl_pipeline()
    pipe.save_pretrained(root / "tiny-sdxl", safe_serialization=True)
    write_sdxl_addons(pipe, root)
    return root


def test_sdxl_prompts_encode_as_diffusers_and_in_chunks(sdxl_folder: Path) -> None:
    pipe = build_sdxl_pipeline()
    ours = encode_prompts(pipe, "a red circle", "blue")
    with torch.no_grad():
        embeds, negative, pooled, negative_pooled = pipe.encode_prompt("a red circle", None, "cpu", 1, True,
                                                                       negative_prompt="blue")
    assert ours["prompt_embeds"].shape == (1, 77, 64)  # both encoders side by side
    assert np.allclose(ours["prompt_embeds"].numpy(), embeds.numpy(), atol=1e-5)
    assert np.allclose(ours["pooled_prompt_embeds"].numpy(), pooled.numpy(), atol=1e-5)
    assert np.allclose(ours["negative_prompt_embeds"].numpy(), negative.numpy(), atol=1e-5)
    long = encode_prompts(pipe, ", ".join(["a red circle"] * 30), "")
    assert long["prompt_embeds"].shape == (1, 154, 64) and long["pooled_prompt_embeds"].shape == (1, 32)
    assert not long["negative_prompt_embeds"].any()  # SDXL's zeros for an empty negative prompt, as diffusers


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def test_sdxl_lora_and_embedding_change_the_image_and_sd1_addons_are_refused(
    ctx: AppContext, sdxl_folder: Path, tiny_models
) -> None:
    ctx.registry.import_path(sdxl_folder / "tiny-sdxl", kind="diffusion", model_id="xl", link=True)
    lora = ctx.registry.import_path(sdxl_folder / "xl-style.safetensors", kind="lora")
    emb = ctx.registry.import_path(sdxl_folder / "xl-emb.safetensors", kind="embedding")
    assert (lora.variant, emb.variant, emb.format) == ("sdxl", "sdxl", "embedding_sdxl")

    def make(prompt: str) -> Path:
        request = ImageRequest(prompt, seed=2, steps=2, width=64, height=64, scheduler="Euler")
        return submit_images(ctx, request)[0].result(TIMEOUT).path

    base = make("a red circle")
    styled = make("a red circle <lora:xl-style:1>")
    kohya = ctx.registry.import_path(sdxl_folder / "xl-kohya.safetensors", kind="lora")
    assert (kohya.format, kohya.variant) == ("lora_kohya", "sdxl")
    kohya_styled = make("a red circle <lora:xl-kohya:1>")  # kohya's SDXL keys (input_blocks…, te1/te2)
    text_only = make("a red circle <lora:xl-kohya:1:0>")
    embedded = make("a red circle, xl-emb")
    assert np.abs(pixels(styled) - pixels(base)).mean() > 0.5
    assert np.abs(pixels(kohya_styled) - pixels(base)).mean() > 0.5
    assert not np.array_equal(pixels(text_only), pixels(base))  # its text-encoder parts load too
    assert not np.array_equal(pixels(text_only), pixels(kohya_styled))
    assert not np.array_equal(pixels(embedded), pixels(base))
    assert np.array_equal(pixels(make("a red circle")), pixels(base))  # LoRA off, embedding not used: as before

    sd1 = ctx.registry.import_path(tiny_models("addons-tiny") / "kohya-style.safetensors", kind="lora")
    with pytest.raises(AddonError, match="made for SD 1.x models; xl is SDXL"):
        submit_images(ctx, ImageRequest(f"a cat <lora:{sd1.id}:1>", steps=1))
