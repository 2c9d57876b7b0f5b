"""Load diffusion pipelines offline: diffusers folders and single-file SD 1.x / 2.x / XL checkpoints,
dedicated 9-channel inpainting checkpoints among them.

Single files carry weights only; the component configs they need come from
`resources/diffusion-configs/<variant>/` (without `config=` diffusers would fetch them from
the hub) and the tokenizers are built from open_clip's bundled vocabulary. Nothing here
opens a network connection.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any, Optional

from ..engine import DeviceInfo
from ..models.catalogue import resources_dir
from ..models.registry import InstalledModel
from ..models.safetensors_header import read_header
from .clip_tokenizer import build_clip_tokenizer

log = logging.getLogger(__name__)

CONFIGS_FOLDER = "diffusion-configs"
VARIANTS = ("sd1", "sd2", "sdxl")
DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4}
# Above this many pixels the VAE decodes in tiles and attention runs in slices, so a large
# image does not need a VRAM spike at the end.
LARGE_IMAGE_PIXELS = 1024 * 1024 + 1
# On a GPU, a pipeline larger than this share of the model budget runs with CPU offload.
OFFLOAD_SHARE = 0.9
# A dedicated inpainting UNet takes the mask and the masked picture's latents beside its own 4 channels.
INPAINTING_CHANNELS = 9
LDM_CONV_IN = "model.diffusion_model.input_blocks.0.0.weight"  # the UNet's conv_in in an original checkpoint


class PipelineLoadError(ValueError):
    """A model that cannot be loaded; the message says which model and why."""


def bundled_config(variant: str) -> Path:
    if variant not in VARIANTS:
        raise PipelineLoadError(f"no bundled configuration for checkpoint type {variant!r}")
    folder = resources_dir() / CONFIGS_FOLDER / variant
    if not (folder / "model_index.json").is_file():
        raise PipelineLoadError(f"the bundled configuration for {variant} is missing from {folder}")
    return folder


class LoadedPipeline:
    """A text-to-image pipeline plus what jobs need to know about it; what the ModelCache holds."""

    def __init__(self, pipe: Any, model_id: str, variant: str, offloaded: bool = False):
        self.pipe = pipe
        self.model_id = model_id
        self.variant = variant
        self.offloaded = offloaded
        self.base_scheduler_config = dict(pipe.scheduler.config)
        self.nbytes = self._size()
        self.large_mode = False  # attention slicing + VAE tiling on
        # Add-ons kept with the pipeline between generations (imagegen/adapters.py):
        self.adapters: dict[str, tuple[int, int]] = {}  # LoRA adapter name -> file (size, mtime)
        self.embeddings: dict[str, Any] = {}  # embedding id -> (file stamp, TextualInversion)
        # "img2img" / "inpaint" -> the same components as that pipeline (passes.derived)
        self.derived: dict[str, Any] = {}

    def _size(self) -> int:
        sizes = []
        for component in self.pipe.components.values():
            if hasattr(component, "parameters"):
                sizes.append(sum(p.numel() * p.element_size() for p in component.parameters()))
        # Offloaded, only the largest component is on the device at a time.
        return max(sizes, default=0) if self.offloaded else sum(sizes)

    @property
    def native_size(self) -> int:
        """Pixels per side the model was trained at (512 for SD 1.x, 1024 for SDXL)."""
        return int(self.pipe.unet.config.sample_size) * int(self.pipe.vae_scale_factor)

    @property
    def inpainting(self) -> bool:
        """A dedicated inpainting model: every generation runs through its inpainting pipeline."""
        return int(self.pipe.unet.config.in_channels) == INPAINTING_CHANNELS

    def to(self, device: Any) -> "LoadedPipeline":
        """Called by the ModelCache to move between GPU and host; offload hooks manage themselves."""
        if not self.offloaded:
            self.pipe.to(device)
        return self


def pipeline_key(model: InstalledModel) -> str:
    return f"diffusion:{model.id}"


def variant_of(model: InstalledModel) -> str:
    if model.format == "sd_single_file":
        return model.variant or "sd1"
    index = _read_index(model.path)
    return "sdxl" if "text_encoder_2" in index else "sd1"


def unet_in_channels(model: InstalledModel) -> int:
    """The UNet's input channels (4, or 9 for an inpainting model), from the file headers or config alone."""
    if model.path.is_file():
        shape = read_header(model.path).get(LDM_CONV_IN, {}).get("shape", [0, 4])
        return int(shape[1])
    try:
        config = json.loads((model.path / "unet" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PipelineLoadError(f"{model.path.name}: unreadable unet/config.json ({exc})") from exc
    return int(config.get("in_channels", 4)) if isinstance(config, dict) else 4


def _read_index(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PipelineLoadError(f"{folder.name}: unreadable model_index.json ({exc})") from exc
    return data if isinstance(data, dict) else {}


def parameter_bytes(model: InstalledModel, dtype_name: str) -> int:
    """Bytes the model's weights take in `dtype_name`, from the safetensors headers alone."""
    files = [model.path] if model.path.is_file() else sorted(model.path.glob("*/*.safetensors"))
    count = 0
    for weights in files:
        for info in read_header(weights).values():
            size = 1
            for dim in info.get("shape", []):
                size *= int(dim)
            count += size
    return count * DTYPE_BYTES.get(dtype_name, 4)


def _tokenizer_pad(config_dir: Path, subfolder: str) -> str:
    path = config_dir / subfolder / "tokenizer_config.json"
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("pad_token", "<|endoftext|>"))
    except (OSError, ValueError):
        return "<|endoftext|>"


def _quiet_loading() -> dict[str, Any]:
    """Silence the libraries' own console progress bars (we report progress ourselves)."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    # Without accelerate, ask for the plain loading path rather than warn about it every time.
    return {} if importlib.util.find_spec("accelerate") else {"low_cpu_mem_usage": False}


def load_single_file(path: Path, variant: str, dtype: Any, config_dir: Optional[Path] = None) -> Any:
    """A pipeline from one .safetensors checkpoint; `config_dir` overrides the bundled configs.

    A 9-channel (inpainting) checkpoint gets the bundled UNet config with in_channels 9 and is
    loaded as its family's inpainting pipeline."""
    from diffusers import (
        StableDiffusionInpaintPipeline,
        StableDiffusionPipeline,
        StableDiffusionXLInpaintPipeline,
        StableDiffusionXLPipeline,
    )

    config_dir = config_dir or bundled_config(variant)
    kwargs: dict[str, Any] = {
        **_quiet_loading(),
        "config": str(config_dir),
        "local_files_only": True,
        "dtype": dtype,
        "tokenizer": build_clip_tokenizer(_tokenizer_pad(config_dir, "tokenizer")),
    }
    inpainting = int(read_header(path).get(LDM_CONV_IN, {}).get("shape", [0, 4])[1]) == INPAINTING_CHANNELS
    if inpainting:
        from diffusers import UNet2DConditionModel

        kwargs["unet"] = UNet2DConditionModel.from_single_file(
            str(path), config=str(config_dir), subfolder="unet", in_channels=INPAINTING_CHANNELS,
            local_files_only=True, dtype=dtype,
        )
    if variant == "sdxl":
        pipeline_class: Any = StableDiffusionXLInpaintPipeline if inpainting else StableDiffusionXLPipeline
        kwargs["tokenizer_2"] = build_clip_tokenizer(_tokenizer_pad(config_dir, "tokenizer_2"))
        kwargs.update(image_encoder=None, feature_extractor=None)
    else:
        pipeline_class = StableDiffusionInpaintPipeline if inpainting else StableDiffusionPipeline
        kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    return pipeline_class.from_single_file(str(path), **kwargs)


def load_folder(folder: Path, dtype: Any) -> Any:
    from diffusers import DiffusionPipeline

    index = _read_index(folder)
    kwargs: dict[str, Any] = {**_quiet_loading(), "local_files_only": True, "dtype": dtype, "use_safetensors": True}
    if "safety_checker" in index:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    pipe = DiffusionPipeline.from_pretrained(str(folder), **kwargs)
    if int(pipe.unet.config.in_channels) == INPAINTING_CHANNELS and "Inpaint" not in type(pipe).__name__:
        from diffusers import AutoPipelineForInpainting

        pipe = AutoPipelineForInpainting.from_pipe(pipe)  # a 9-channel UNet in a text-to-image folder
    return pipe


def load_pipeline(
    model: InstalledModel,
    device: DeviceInfo,
    budget_bytes: int = 0,
    config_dir: Optional[Path] = None,
) -> LoadedPipeline:
    """Load onto `device` in its dtype; on a GPU too small for it, with model CPU offload."""
    variant = variant_of(model)
    dtype = device.torch_dtype
    try:
        if model.format == "sd_single_file":
            pipe = load_single_file(model.path, variant, dtype, config_dir)
        elif model.format == "diffusers":
            pipe = load_folder(model.path, dtype)
        else:
            raise PipelineLoadError(f"{model.id} is a {model.format} model, not an image generation model")
    except PipelineLoadError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        if "out of memory" in str(exc).lower():
            raise
        raise PipelineLoadError(f"could not load {model.id}: {exc}") from exc
    pipe.set_progress_bar_config(disable=True)
    offload = (
        device.kind == "cuda"
        and budget_bytes > 0
        and parameter_bytes(model, device.dtype_name) > budget_bytes * OFFLOAD_SHARE
    )
    if offload:
        log.info("%s does not fit the %.1f GiB budget: running with model CPU offload", model.id, budget_bytes / 2**30)
        enable_offload(pipe, device)
    else:
        pipe.to(device.torch_device)
    return LoadedPipeline(pipe, model.id, variant, offloaded=offload)


def enable_offload(pipe: Any, device: DeviceInfo) -> None:
    """Keep weights in RAM and move each component to the GPU only while it runs."""
    if importlib.util.find_spec("accelerate"):  # diffusers' model offload needs it
        pipe.enable_model_cpu_offload(device=device.torch_device)
    else:
        # diffusers' own hooks: whole top-level blocks at a time, no accelerate needed.
        pipe.enable_group_offload(
            onload_device=device.torch_device, offload_type="block_level", num_blocks_per_group=1
        )


def configure_for_size(loaded: LoadedPipeline, width: int, height: int, device: DeviceInfo) -> None:
    """Attention slicing and VAE tiling for large images (or Apple GPUs); off otherwise (faster)."""
    large = width * height >= LARGE_IMAGE_PIXELS or device.kind == "mps"
    if large == loaded.large_mode:
        return
    pipe = loaded.pipe
    if large:
        pipe.enable_attention_slicing()
        pipe.vae.enable_tiling()
    else:
        pipe.disable_attention_slicing()
        pipe.vae.disable_tiling()
    loaded.large_mode = large
