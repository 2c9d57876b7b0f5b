"""The bundled SD configs describe the real architectures; the tokenizer is CLIP's, built offline."""

from __future__ import annotations

import json

import pytest

from latentstudio.imagegen.clip_tokenizer import build_clip_tokenizer
from latentstudio.imagegen.loading import VARIANTS, bundled_config

# Parameter counts of the published models (UNet, VAE, text encoder, second text encoder).
PUBLISHED_PARAMETERS = {
    "sd1": (859_520_964, 83_653_863, 123_060_480, None),  # runwayml/stable-diffusion-v1-5
    "sd2": (865_910_724, 83_653_863, 340_387_840, None),  # stabilityai/stable-diffusion-2-1
    "sdxl": (2_567_463_684, 83_653_863, 123_060_480, 694_659_840),  # stable-diffusion-xl-base-1.0
}


def count(module: object) -> int:
    return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]


@pytest.mark.parametrize("variant", VARIANTS)
def test_bundled_configs_build_the_published_architectures(variant: str) -> None:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    folder = bundled_config(variant)
    index = json.loads((folder / "model_index.json").read_text())
    unet_n, vae_n, text_n, text2_n = PUBLISHED_PARAMETERS[variant]
    with torch.device("meta"):  # shapes only: no memory, no time spent on weights
        assert count(UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder / "unet"))) == unet_n
        assert count(AutoencoderKL.from_config(AutoencoderKL.load_config(folder / "vae"))) == vae_n
        assert count(CLIPTextModel(CLIPTextConfig.from_pretrained(folder / "text_encoder"))) == text_n
        if text2_n is not None:
            config = CLIPTextConfig.from_pretrained(folder / "text_encoder_2")
            assert count(CLIPTextModelWithProjection(config)) == text2_n
    for component, entry in index.items():
        if isinstance(entry, list) and isinstance(entry[0], str):
            assert (folder / component).is_dir(), f"{variant}: {component} ({entry[1]}) has no config folder"


def test_tokenizer_matches_open_clip() -> None:
    from open_clip.tokenizer import SimpleTokenizer

    reference = SimpleTokenizer()
    tokenizer = build_clip_tokenizer()
    for text in ["a photo of a cat", "A Café, naïve résumé!! 42 × 7", "oil painting: (castle), dusk"]:
        assert tokenizer(text).input_ids == [49406, *reference.encode(text), 49407]
    padded = build_clip_tokenizer(pad_token="!")("dog", padding="max_length", max_length=77).input_ids
    assert len(padded) == 77 and padded[-1] == 0  # "!" is token 0: SD 2.x / SDXL padding
