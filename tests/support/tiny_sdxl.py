"""A tiny SDXL-shaped pipeline (two text encoders, text-time conditioning), built in memory for the
tests of SDXL prompt encoding, LoRAs and embeddings; the shapes follow diffusers' own SDXL test
components. Weights are random but seeded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

TEXT_WIDTH = 32  # each encoder; the UNet's cross-attention takes both side by side (64)


def build_sdxl_pipeline() -> Any:
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from latentstudio.imagegen.clip_tokenizer import build_clip_tokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=80, cross_attention_dim=2 * TEXT_WIDTH, norm_num_groups=1,
    )
    vae = AutoencoderKL(
        block_out_channels=[32, 64], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4, sample_size=128,
    )
    text = dict(bos_token_id=49406, eos_token_id=49407, pad_token_id=1, hidden_size=TEXT_WIDTH, intermediate_size=37,
                layer_norm_eps=1e-05, num_attention_heads=4, num_hidden_layers=5, vocab_size=49408,
                hidden_act="gelu", projection_dim=32, max_position_embeddings=77)
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(CLIPTextConfig(**text)),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**text)),
        tokenizer=build_clip_tokenizer(),
        tokenizer_2=build_clip_tokenizer("!"),
        unet=unet,
        scheduler=EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1,
                                         beta_schedule="scaled_linear", timestep_spacing="leading"),
    )


def write_sdxl_addons(pipe: Any, root: Path) -> None:
    """A diffusers-layout SDXL LoRA (UNet and both text encoders) and an SDXL embedding (clip_l/clip_g)."""
    from safetensors.torch import save_file

    from tests.support.tiny_addons import TE_TARGETS, UNET_TARGETS, _linears, _pair

    generator = torch.Generator().manual_seed(11)
    tensors = {}
    for prefix, model, targets in (("unet", pipe.unet, UNET_TARGETS), ("text_encoder", pipe.text_encoder, TE_TARGETS),
                                   ("text_encoder_2", pipe.text_encoder_2, TE_TARGETS)):
        for name, module in _linears(model, targets):
            down, up = _pair(module, generator, 0.5)
            tensors[f"{prefix}.{name}.lora_A.weight"] = down
            tensors[f"{prefix}.{name}.lora_B.weight"] = up
    save_file(tensors, str(root / "xl-style.safetensors"))
    save_file(kohya_sdxl_lora(pipe, 12), str(root / "xl-kohya.safetensors"),
              metadata={"ss_base_model_version": "sdxl_base_v1-0"})
    save_file({"clip_l": torch.randn(2, TEXT_WIDTH, generator=generator) * 2,
               "clip_g": torch.randn(2, TEXT_WIDTH, generator=generator) * 2}, str(root / "xl-emb.safetensors"))


def _ldm_block(name: str) -> str:
    """diffusers → SGM/LDM block names for the tiny SDXL UNet (2 layers a block, attention in the
    second down block, the first up block and the middle), as kohya's SDXL LoRAs name them."""
    parts = name.split(".")
    if parts[0] == "down_blocks":
        return ".".join([f"input_blocks.{int(parts[1]) * 3 + 1 + int(parts[3])}.1", *parts[4:]])
    if parts[0] == "up_blocks":
        return ".".join([f"output_blocks.{int(parts[1]) * 3 + int(parts[3])}.1", *parts[4:]])
    return ".".join(["middle_block.1", *parts[3:]])  # mid_block.attentions.0.…


def kohya_sdxl_lora(pipe: Any, seed: int) -> dict[str, torch.Tensor]:
    from tests.support.tiny_addons import RANK, TE_TARGETS, UNET_TARGETS, _linears, _pair

    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    for prefix, model, targets, rename in (
        ("lora_unet", pipe.unet, UNET_TARGETS, _ldm_block),
        ("lora_te1", pipe.text_encoder, TE_TARGETS, str),
        ("lora_te2", pipe.text_encoder_2, TE_TARGETS, str),
    ):
        for name, module in _linears(model, targets):
            key = f"{prefix}_{rename(name).replace('.', '_')}"
            down, up = _pair(module, generator, 0.5)
            tensors[f"{key}.lora_down.weight"] = down
            tensors[f"{key}.lora_up.weight"] = up
            tensors[f"{key}.alpha"] = torch.tensor(float(RANK))
    return tensors
