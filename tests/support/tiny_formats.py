"""Minimal files in each format the registry detects, from their headers alone.

They hold real (tiny) tensors in valid safetensors files, laid out the way each kind of
model is laid out on disk, for detection and import tests. Models that must actually run
come from their own builders (clip-tiny, diffusion-tiny, llm-tiny).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file


def _tensors(*names: str) -> dict[str, np.ndarray]:
    return {name: np.zeros((2, 2), dtype=np.float32) for name in names}


def write_samples(root: Path) -> None:
    root.mkdir(parents=True)
    clip = root / "open-clip-folder"
    clip.mkdir()
    (clip / "open_clip_config.json").write_text(json.dumps({"model_cfg": {"embed_dim": 8}}))
    save_file(_tensors("visual.proj", "token_embedding.weight"), str(clip / "open_clip_model.safetensors"))

    diffusers = root / "diffusers-folder"
    (diffusers / "unet").mkdir(parents=True)
    (diffusers / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (diffusers / "unet" / "config.json").write_text("{}")
    save_file(_tensors("conv_in.weight"), str(diffusers / "unet" / "diffusion_pytorch_model.safetensors"))

    save_file(
        _tensors("model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.transformer.x"),
        str(root / "sd15-checkpoint.safetensors"),
    )
    save_file(
        _tensors("model.diffusion_model.input_blocks.0.0.weight", "conditioner.embedders.1.model.x"),
        str(root / "sdxl-checkpoint.safetensors"),
    )
    save_file(_tensors("visual.conv1.weight", "token_embedding.weight"), str(root / "open-clip-checkpoint.safetensors"))

    llm = root / "llm-folder"
    llm.mkdir()
    (llm / "config.json").write_text(json.dumps({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}))
    (llm / "tokenizer.json").write_text("{}")
    save_file(_tensors("model.embed_tokens.weight"), str(llm / "model.safetensors"))

    save_file(_tensors("some.unrelated.tensor"), str(root / "unknown.safetensors"))
    good = (root / "sd15-checkpoint.safetensors").read_bytes()
    (root / "truncated.safetensors").write_bytes(good[: len(good) - 8])
    (root / "garbage.safetensors").write_bytes(b"\x00not a safetensors file at all")
    (root / "pickled.ckpt").write_bytes(b"\x80\x04pickle")
