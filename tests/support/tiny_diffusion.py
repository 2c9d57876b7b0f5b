"""`diffusion-tiny`: a Stable-Diffusion-1.x-shaped pipeline small enough to run in tests on a CPU.

Writes into the folder it is given:
  diffusers/                      a diffusers folder (model_index.json, unet, vae, text_encoder,
                                  tokenizer, scheduler), as `save_pretrained` lays it out
  tiny-sd1.safetensors            the same weights as a single-file checkpoint with the original
                                  (LDM) key names, as AUTOMATIC1111 and ComfyUI users have them

The tokenizer is the real CLIP BPE tokenizer (from open_clip's vocabulary); weights are random
but seeded, so every build is identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

TINY_SIZE = 64  # pixels; the tiny VAE quarters it to a 16x16 latent


UNET_CONFIG: dict[str, Any] = {
    "sample_size": TINY_SIZE // 4,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
    "block_out_channels": (32, 64),
    "layers_per_block": 1,
    "cross_attention_dim": 32,
    "attention_head_dim": 4,
    "norm_num_groups": 16,
}
VAE_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 3,
    "up_block_types": ("UpDecoderBlock2D",) * 3,
    "block_out_channels": (16, 32, 32),
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 16,
    "sample_size": TINY_SIZE,
}
TEXT_CONFIG: dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "max_position_embeddings": 77,
    "projection_dim": 32,
    "bos_token_id": 49406,
    "eos_token_id": 49407,
    "pad_token_id": 49407,
}
SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
}


def build_pipeline() -> Any:
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from latentstudio.imagegen.clip_tokenizer import build_clip_tokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(**UNET_CONFIG)
    vae = AutoencoderKL(**VAE_CONFIG)
    text_encoder = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG))
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=build_clip_tokenizer(),
        unet=unet,
        scheduler=PNDMScheduler(**SCHEDULER_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


# -- diffusers → original (LDM) key names: the inverse of diffusers' single-file conversion -------


def _unet_resnet(name: str) -> str:
    return (
        name.replace("norm1", "in_layers.0")
        .replace("conv1", "in_layers.2")
        .replace("norm2", "out_layers.0")
        .replace("conv2", "out_layers.3")
        .replace("time_emb_proj", "emb_layers.1")
        .replace("conv_shortcut", "skip_connection")
    )


def unet_to_ldm(state: dict[str, torch.Tensor], layers: int, levels: int) -> dict[str, torch.Tensor]:
    fixed = {
        "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2",
        "conv_in": "input_blocks.0.0",
        "conv_norm_out": "out.0",
        "conv_out": "out.2",
    }
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        parts = key.split(".")
        head, rest = ".".join(parts[:-1]), parts[-1]
        if head in fixed:
            new = f"{fixed[head]}.{rest}"
        elif parts[0] == "down_blocks":
            level, kind = int(parts[1]), parts[2]
            tail = ".".join(parts[4:])
            if kind == "downsamplers":
                new = f"input_blocks.{(level + 1) * (layers + 1)}.0.op.{'.'.join(parts[5:])}"
            else:
                block = 1 + level * (layers + 1) + int(parts[3])
                new = (
                    f"input_blocks.{block}.0.{_unet_resnet(tail)}"
                    if kind == "resnets"
                    else f"input_blocks.{block}.1.{tail}"
                )
        elif parts[0] == "mid_block":
            kind, index, tail = parts[1], int(parts[2]), ".".join(parts[3:])
            new = (
                f"middle_block.{2 * index}.{_unet_resnet(tail)}"
                if kind == "resnets"
                else f"middle_block.1.{tail}"
            )
        elif parts[0] == "up_blocks":
            level, kind = int(parts[1]), parts[2]
            has_attention = any(k.startswith(f"up_blocks.{level}.attentions.") for k in state)
            if kind == "upsamplers":
                block = level * (layers + 1) + layers
                new = f"output_blocks.{block}.{2 if has_attention else 1}.{'.'.join(parts[4:])}"
            else:
                block = level * (layers + 1) + int(parts[3])
                tail = ".".join(parts[4:])
                new = (
                    f"output_blocks.{block}.0.{_unet_resnet(tail)}"
                    if kind == "resnets"
                    else f"output_blocks.{block}.1.{tail}"
                )
        else:
            raise KeyError(f"unexpected UNet key {key}")
        out[f"model.diffusion_model.{new}"] = value
    return out


def vae_to_ldm(state: dict[str, torch.Tensor], levels: int) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
        parts = new.split(".")
        if parts[1] == "down_blocks":
            level = parts[2]
            if parts[3] == "downsamplers":
                new = f"{parts[0]}.down.{level}.downsample.{'.'.join(parts[5:])}"
            else:
                new = f"{parts[0]}.down.{level}.block.{'.'.join(parts[4:])}"
        elif parts[1] == "up_blocks":
            level = levels - 1 - int(parts[2])
            if parts[3] == "upsamplers":
                new = f"{parts[0]}.up.{level}.upsample.{'.'.join(parts[5:])}"
            else:
                new = f"{parts[0]}.up.{level}.block.{'.'.join(parts[4:])}"
        elif parts[1] == "mid_block":
            if parts[2] == "resnets":
                new = f"{parts[0]}.mid.block_{int(parts[3]) + 1}.{'.'.join(parts[4:])}"
            else:
                attention = {
                    "group_norm": "norm",
                    "to_q": "q",
                    "to_k": "k",
                    "to_v": "v",
                    "to_out": "proj_out",
                }[parts[4]]
                tail = parts[-1]
                new = f"{parts[0]}.mid.attn_1.{attention}.{tail}"
                if attention != "norm" and tail == "weight":
                    value = value[:, :, None, None]  # LDM keeps these as 1x1 convolutions
        out[f"first_stage_model.{new}"] = value
    return out


def text_encoder_to_ldm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        name = key if key.startswith("text_model.") else f"text_model.{key}"
        out[f"cond_stage_model.transformer.{name}"] = value
    return out


def write_single_file(pipe: Any, path: Path) -> None:
    from safetensors.torch import save_file

    levels = len(pipe.unet.config.block_out_channels)
    tensors = {
        **unet_to_ldm(pipe.unet.state_dict(), pipe.unet.config.layers_per_block, levels),
        **vae_to_ldm(pipe.vae.state_dict(), len(pipe.vae.config.block_out_channels)),
        **text_encoder_to_ldm(pipe.text_encoder.state_dict()),
    }
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))


def write_tiny_diffusion(root: Path) -> None:
    root.mkdir(parents=True)
    pipe = build_pipeline()
    pipe.save_pretrained(root / "diffusers", safe_serialization=True)
    write_single_file(pipe, root / "tiny-sd1.safetensors")
