"""`addons-tiny`: LoRAs and textual-inversion embeddings for `diffusion-tiny`, in the layouts users have.

Writes into the folder it is given:
  kohya-style.safetensors        a LoRA with kohya/sd-scripts keys (`lora_unet_…`, `lora_te_…`,
                                 `.lora_down/.lora_up/.alpha`) and kohya's training metadata
  kohya-style.preview.png        its preview picture, as A1111 / Civitai helpers save it
  diffusers-style.safetensors    a LoRA with diffusers/PEFT keys (`unet.….lora_A/lora_B`,
                                 `text_encoder.…`), UNet and text encoder
  second-style.safetensors       another kohya LoRA (other seed), for switching and stacking
  sdxl-style.safetensors         a LoRA whose keys say SDXL (`lora_te2_…`): refused for SD 1.x
  loha-style.safetensors         a LyCORIS LoHa file (`hada_w1_a` …): refused by name
  tiny-emb.safetensors           an A1111 embedding (`emb_params`, 2 vectors)
  tiny-diffusers-emb.safetensors a diffusers embedding (`{"<tiny>": [width]}`)
  tiny-pt-emb.pt                 an A1111 .pt embedding (tensors only: weights_only reads it)
  evil-emb.pt                    a .pt that needs more than tensors to load: refused

Weights are random but seeded, scaled so each LoRA visibly changes the tiny model's pictures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from tests.support.tiny_diffusion import build_pipeline

UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
TE_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")
RANK = 4


def _linears(model: Any, targets: tuple[str, ...]) -> list[tuple[str, Any]]:
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and any(name.endswith(t) for t in targets)
    ]


def _pair(module: Any, generator: torch.Generator, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    down = torch.randn(RANK, module.in_features, generator=generator) * scale
    up = torch.randn(module.out_features, RANK, generator=generator) * scale
    return down, up


def kohya_lora(pipe: Any, seed: int, scale: float = 0.5) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    for prefix, model, targets in (("lora_unet", pipe.unet, UNET_TARGETS), ("lora_te", pipe.text_encoder, TE_TARGETS)):
        for name, module in _linears(model, targets):
            key = f"{prefix}_{name.replace('.', '_')}"
            down, up = _pair(module, generator, scale)
            tensors[f"{key}.lora_down.weight"] = down
            tensors[f"{key}.lora_up.weight"] = up
            tensors[f"{key}.alpha"] = torch.tensor(float(RANK))
    return tensors


def diffusers_lora(pipe: Any, seed: int, scale: float = 0.5) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    for prefix, model, targets in (("unet", pipe.unet, UNET_TARGETS), ("text_encoder", pipe.text_encoder, TE_TARGETS)):
        for name, module in _linears(model, targets):
            down, up = _pair(module, generator, scale)
            tensors[f"{prefix}.{name}.lora_A.weight"] = down
            tensors[f"{prefix}.{name}.lora_B.weight"] = up
    return tensors


KOHYA_METADATA = {
    "ss_base_model_version": "sd_v1",
    "ss_network_module": "networks.lora",
    "ss_tag_frequency": json.dumps({"10_tinystyle": {"tinystyle": 12, "red circle": 5, "1girl": 1}}),
}


def write_tiny_addons(root: Path) -> None:
    from PIL import Image
    from safetensors.torch import save_file

    root.mkdir(parents=True)
    pipe = build_pipeline()
    width = pipe.text_encoder.config.hidden_size
    save_file(kohya_lora(pipe, 1), str(root / "kohya-style.safetensors"), metadata=KOHYA_METADATA)
    Image.new("RGB", (32, 32), (200, 40, 40)).save(root / "kohya-style.preview.png")
    save_file(diffusers_lora(pipe, 2), str(root / "diffusers-style.safetensors"))
    save_file(kohya_lora(pipe, 3), str(root / "second-style.safetensors"), metadata=KOHYA_METADATA)
    sdxl = {"lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": torch.zeros(RANK, 1280),
            "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight": torch.zeros(1280, RANK)}
    save_file(sdxl, str(root / "sdxl-style.safetensors"), metadata={"ss_base_model_version": "sdxl_base_v1-0"})
    loha = {"lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_a": torch.zeros(32, RANK),
            "lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_b": torch.zeros(RANK, 32)}
    save_file(loha, str(root / "loha-style.safetensors"))

    generator = torch.Generator().manual_seed(7)
    vectors = torch.randn(2, width, generator=generator) * 2
    save_file({"emb_params": vectors}, str(root / "tiny-emb.safetensors"))
    save_file({"<tiny>": torch.randn(width, generator=generator) * 2}, str(root / "tiny-diffusers-emb.safetensors"))
    torch.save(
        {"string_to_token": {"*": 265}, "string_to_param": {"*": torch.randn(3, width, generator=generator)},
         "name": "tiny-pt-emb", "step": 100},
        root / "tiny-pt-emb.pt",
    )
    torch.save({"string_to_param": {"*": torch.zeros(1, width)}, "hook": Path("/")}, root / "evil-emb.pt")
