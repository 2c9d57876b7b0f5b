"""`diffusion-inpaint-tiny`: a dedicated 9-channel inpainting model shaped like `diffusion-tiny`.

Its UNet takes 9 input channels (4 latent, 1 mask, 4 masked-image latent), as
stable-diffusion-inpainting and SDXL's inpainting checkpoints do. Writes into the folder it is given:
  diffusers/                   a diffusers folder (StableDiffusionInpaintPipeline)
  tiny-sd1-inpainting.safetensors  the same weights as a single-file checkpoint with LDM key names

Weights are random but seeded, so every build is identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tests.support.tiny_diffusion import SCHEDULER_CONFIG, TEXT_CONFIG, UNET_CONFIG, VAE_CONFIG, write_single_file

INPAINT_CHANNELS = 9


def build_inpainting_pipeline() -> Any:
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from latentstudio.imagegen.clip_tokenizer import build_clip_tokenizer

    torch.manual_seed(9)
    return StableDiffusionInpaintPipeline(
        vae=AutoencoderKL(**VAE_CONFIG),
        text_encoder=CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG)),
        tokenizer=build_clip_tokenizer(),
        unet=UNet2DConditionModel(**{**UNET_CONFIG, "in_channels": INPAINT_CHANNELS}),
        scheduler=PNDMScheduler(**SCHEDULER_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def write_tiny_inpainting(root: Path) -> None:
    root.mkdir(parents=True)
    pipe = build_inpainting_pipeline()
    pipe.save_pretrained(root / "diffusers", safe_serialization=True)
    write_single_file(pipe, root / "tiny-sd1-inpainting.safetensors")
