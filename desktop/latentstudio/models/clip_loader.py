"""Load open_clip models offline: a hub-layout folder or an architecture name plus a checkpoint.

The loaded `ClipModel` bundles the network, its tokenizer and its preprocessing settings,
and encodes batches of already-resized uint8 pixels (the library's decode threads do the
resizing, so the inference thread only normalises and runs the network). Weights are read
from safetensors only; nothing is fetched from the network.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from .registry import InstalledModel

if TYPE_CHECKING:
    from PIL import Image

    from ..engine import JobContext

log = logging.getLogger(__name__)

HUB_CONFIG = "open_clip_config.json"
HUB_WEIGHTS = "open_clip_model.safetensors"


@dataclass(frozen=True)
class PixelSpec:
    """How an image becomes the model's input, mirroring open_clip's eval transform."""

    size: tuple[int, int]  # (height, width)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"
    fill_color: int = 0

    @classmethod
    def from_open_clip(cls, cfg: dict[str, Any]) -> "PixelSpec":
        size = cfg.get("size", 224)
        if isinstance(size, int):
            size = (size, size)
        return cls(
            size=(int(size[0]), int(size[1])),
            mean=tuple(float(v) for v in cfg["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in cfg["std"]),  # type: ignore[arg-type]
            interpolation=str(cfg.get("interpolation", "bicubic")),
            resize_mode=str(cfg.get("resize_mode", "shortest")),
            fill_color=int(cfg.get("fill_color", 0)),
        )

    def to_pixels(self, image: "Image.Image") -> np.ndarray:
        """An RGB PIL image → uint8 array (H, W, 3), resized and cropped as open_clip does."""
        from PIL import Image

        resample = {
            "bicubic": Image.Resampling.BICUBIC,
            "bilinear": Image.Resampling.BILINEAR,
            "nearest": Image.Resampling.NEAREST,
        }.get(self.interpolation, Image.Resampling.BICUBIC)
        th, tw = self.size
        w, h = image.size
        if self.resize_mode == "squash":
            return np.asarray(image.resize((tw, th), resample), dtype=np.uint8)
        if self.resize_mode == "longest":
            scale = min(th / h, tw / w)
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            resized = image.resize((nw, nh), resample)
            canvas = Image.new("RGB", (tw, th), (self.fill_color,) * 3)
            canvas.paste(resized, ((tw - nw) // 2, (th - nh) // 2))
            return np.asarray(canvas, dtype=np.uint8)
        if th == tw:
            # torchvision Resize(int): the short side becomes `th`, the long side is truncated.
            if w <= h:
                nw, nh = th, int(th * h / w)
            else:
                nw, nh = int(th * w / h), th
        else:
            scale = max(th / h, tw / w)
            nw, nh = round(w * scale), round(h * scale)
        if (nw, nh) != (w, h):
            image = image.resize((nw, nh), resample)
        top = int(round((nh - th) / 2.0))
        left = int(round((nw - tw) / 2.0))
        return np.asarray(image.crop((left, top, left + tw, top + th)), dtype=np.uint8)


class ClipModel:
    """An open_clip model ready for inference, with its tokenizer and pixel spec.

    Exposes `parameters()`, `buffers()` and `to()` so the engine's ModelCache can size it
    and move it between host and device.
    """

    def __init__(self, model: Any, tokenizer: Any, spec: PixelSpec, name: str, preprocess: Any):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.spec = spec
        self.name = name
        self.preprocess = preprocess  # open_clip's own eval transform (PIL → tensor)
        self.embed_dim = int(getattr(model, "embed_dim", 0) or self._probe_dim())

    def _probe_dim(self) -> int:
        return int(self.encode_text(["a"]).shape[1])

    # -- ModelCache protocol ----------------------------------------------------------------

    def parameters(self) -> Iterator[Any]:
        return self.model.parameters()

    def buffers(self) -> Iterator[Any]:
        return self.model.buffers()

    def to(self, device: Any, dtype: Any = None) -> "ClipModel":
        self.model.to(device=device, dtype=dtype) if dtype is not None else self.model.to(device)
        return self

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> Any:
        return next(self.model.parameters()).dtype

    # -- encoding ---------------------------------------------------------------------------

    def pixels_to_tensor(self, pixels: np.ndarray) -> Any:
        """uint8 (N, H, W, 3) → normalised float tensor (N, 3, H, W) on the model's device."""
        import torch

        pixels = np.ascontiguousarray(pixels)
        if not pixels.flags.writeable:  # arrays viewing PIL images are read-only
            pixels = pixels.copy()
        batch = torch.from_numpy(pixels).to(self.device)
        batch = batch.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
        mean = torch.tensor(self.spec.mean, device=batch.device).view(1, 3, 1, 1)
        std = torch.tensor(self.spec.std, device=batch.device).view(1, 3, 1, 1)
        return batch.sub_(mean).div_(std).to(self.dtype)

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (N, H, W, 3) → unit-length float32 vectors (N, D)."""
        return self.encode_tensor(self.pixels_to_tensor(pixels))

    def encode_tensor(self, batch: Any) -> np.ndarray:
        import torch

        with torch.inference_mode():
            features = self.model.encode_image(batch.to(self.device, self.dtype), normalize=True)
        return features.float().cpu().numpy()

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        tokens = self.tokenizer(list(texts)).to(self.device)
        with torch.inference_mode():
            features = self.model.encode_text(tokens, normalize=True)
        return features.float().cpu().numpy()


def _finish(model: Any, name: str, device: Any, dtype: Any, tokenizer: Any) -> ClipModel:
    from open_clip.transform import PreprocessCfg, image_transform_v2

    cfg = dict(getattr(model.visual, "preprocess_cfg", {}) or {})
    spec = PixelSpec.from_open_clip(cfg)
    preprocess = image_transform_v2(PreprocessCfg(**cfg), is_train=False)
    if device is not None:
        model = model.to(device)
    if dtype is not None:
        model = model.to(dtype)
    return ClipModel(model, tokenizer, spec, name, preprocess)


class _WeightsFollow(logging.Filter):
    """open_clip warns that a model it built "initialized randomly" although our weights load
    next: keep that one misleading line out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()


@contextlib.contextmanager
def _weights_follow() -> Iterator[None]:
    quiet = _WeightsFollow()
    root = logging.getLogger()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


def load_clip_folder(folder: Path, device: Any = None, dtype: Any = None) -> ClipModel:
    """open_clip's hub layout: `open_clip_config.json` + `open_clip_model.safetensors`."""
    import open_clip

    folder = Path(folder)
    config_path, weights = folder / HUB_CONFIG, folder / HUB_WEIGHTS
    if not config_path.is_file():
        raise FileNotFoundError(f"{folder}: no {HUB_CONFIG}")
    if not weights.is_file():
        raise FileNotFoundError(f"{folder}: no {HUB_WEIGHTS} (only safetensors weights are loaded)")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if "model_cfg" not in config:
        raise ValueError(f"{config_path} has no 'model_cfg'")
    # load_weights=False keeps open_clip from picking any other (possibly pickled) file in
    # the folder; the safetensors file is loaded explicitly below.
    spec = f"local-dir:{folder.resolve()}"
    with _weights_follow():
        model = open_clip.create_model(spec, load_weights=False, pretrained_image=False)
    open_clip.load_checkpoint(model, str(weights), weights_only=True)
    tokenizer = open_clip.get_tokenizer(spec)
    return _finish(model, folder.name, device, dtype, tokenizer)


def load_clip_checkpoint(
    architecture: str, checkpoint: Path, device: Any = None, dtype: Any = None
) -> ClipModel:
    """An open_clip architecture name (e.g. ViT-B-32) plus a local .safetensors checkpoint."""
    import open_clip

    checkpoint = Path(checkpoint)
    if checkpoint.suffix.lower() != ".safetensors":
        raise ValueError(f"{checkpoint.name}: only .safetensors checkpoints are loaded")
    if architecture not in open_clip.list_models():
        raise ValueError(f"unknown open_clip architecture {architecture!r}")
    with _weights_follow():
        model = open_clip.create_model(architecture, pretrained=None, pretrained_image=False)
    open_clip.load_checkpoint(model, str(checkpoint), weights_only=True)
    return _finish(model, architecture, device, dtype, open_clip.get_tokenizer(architecture))


def load_clip_random(architecture: str, device: Any = None, dtype: Any = None) -> ClipModel:
    """An architecture with random weights: for benchmarks, where speed does not depend on them."""
    import open_clip

    model = open_clip.create_model(architecture, pretrained=None, pretrained_image=False)
    return _finish(model, architecture, device, dtype, open_clip.get_tokenizer(architecture))


def load_installed_clip(installed: InstalledModel, device: Any = None, dtype: Any = None) -> ClipModel:
    if installed.kind != "clip":
        raise ValueError(f"model {installed.id!r} is a {installed.kind} model, not CLIP")
    if installed.format == "open_clip_hub":
        return load_clip_folder(installed.path, device, dtype)
    if installed.format == "open_clip_checkpoint":
        if not installed.architecture:
            raise ValueError(f"model {installed.id!r} has no architecture name recorded")
        return load_clip_checkpoint(installed.architecture, installed.path, device, dtype)
    raise ValueError(f"model {installed.id!r} has format {installed.format!r}, not an open_clip format")


def cache_key(model_id: str) -> str:
    return f"clip:{model_id}"


def clip_in_job(job: "JobContext", installed: InstalledModel) -> Any:
    """`with clip_in_job(job, installed) as clip:` — loaded once, kept resident by the engine."""
    device = job.device
    return job.models.use(
        cache_key(installed.id),
        lambda: load_installed_clip(installed, device.torch_device, device.torch_dtype),
        size_hint=installed.size_bytes or None,
    )
