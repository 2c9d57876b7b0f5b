"""The upscale job: a picture through a super-resolution model, tile by tile, on the inference thread.

Each tile passes the engine's checkpoint (Cancel, and any waiting search) and sends a preview;
a tile size that runs out of memory halves. A scale above the model's own takes more passes
(as A1111 does), one below it is reached by resizing the model's result with Lanczos. The PNG
keeps the source's settings plus an `Upscale` entry, and joins the library.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from ..engine import JobContext, JobHandle
from ..models.registry import InstalledModel
from ..models.upscalers import UPSCALER_KIND, load_upscaler, upscaler_scale
from .outputs import write_new_file
from .tiling import run_tiles_halving
from .upscale_metadata import UpscaledSettings, png_text, upscaled_settings

if TYPE_CHECKING:
    from ..models import ModelRegistry

JOB_KIND = "image"  # upscales queue and take turns with generations, in the Image page's queue
MAX_SOURCE_PIXELS = 64 * 2**20
MAX_OUTPUT_PIXELS = 300 * 2**20  # about 20000 x 15000: a 4x upscale of a 12-megapixel photo fits
MAX_SCALE = 16.0
MAX_PASSES = 4
# Input pixels per tile side. On a CPU tiles of 192-256 run faster than whole pictures (their
# activations stay in cache; tests/benchmarks/upscale_throughput.py); a GPU wants larger ones.
CPU_TILE, GPU_TILE = 256, 512
PREVIEW_SIDE = 768  # the preview's longest side, in pixels


@dataclass(frozen=True)
class UpscaleRequest:
    image: Path
    model_id: Optional[str] = None  # None: the default upscaler
    scale: Optional[float] = None  # None: the model's own
    tile: Optional[int] = None  # None: the device's default (default_tile)

    def validated(self) -> "UpscaleRequest":
        if not Path(self.image).is_file():
            raise FileNotFoundError(f"{self.image} does not exist")
        if self.scale is not None and not 1 <= self.scale <= MAX_SCALE:
            raise ValueError(f"scale must be between 1 and {MAX_SCALE:g}")
        if self.tile is not None and self.tile < 32:
            raise ValueError("the tile size must be at least 32 pixels")
        return self


@dataclass(frozen=True)
class TilePreview:
    """Payload of an upscale's PREVIEW event: the result so far, an (h, w, 3) uint8 array."""

    done: int
    total: int
    image: np.ndarray


@dataclass(frozen=True)
class UpscaledImage:
    path: Path
    source: Path
    model_id: str
    scale: float
    width: int
    height: int
    seconds: float  # the model's passes and the final resize, without loading or saving
    tile: int  # the tile size that worked (after any halving)
    passes: int
    library_job: Optional[JobHandle] = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "source": str(self.source),
            "model": self.model_id,
            "scale": self.scale,
            "width": self.width,
            "height": self.height,
            "seconds": round(self.seconds, 3),
            "tile": self.tile,
            "passes": self.passes,
        }


class LoadedUpscaler:
    """A spandrel model on the job's device, in its dtype; what the ModelCache holds."""

    def __init__(self, descriptor: Any, device: Any, dtype: Any):
        self.descriptor = descriptor.to(device).to(dtype)
        self.device = device
        self.dtype = dtype
        self.nbytes = sum(p.numel() * p.element_size() for p in descriptor.model.parameters())

    @property
    def scale(self) -> int:
        return int(self.descriptor.scale)

    @property
    def tiles(self) -> bool:
        """False for a model that tiles inside itself (spandrel says so): it gets the whole picture."""
        return self.descriptor.tiling.name != "INTERNAL"

    def to(self, device: Any) -> "LoadedUpscaler":
        self.descriptor.to(device)
        self.device = device
        return self

    def __call__(self, tile: Any) -> Any:
        return self.descriptor(tile.to(self.device, self.dtype))


def load_for(model: InstalledModel, device: Any) -> LoadedUpscaler:
    """Read an installed upscaler: float32 on the CPU, float16 on a GPU where the model allows."""
    import torch

    descriptor = load_upscaler(model.path)
    half = device.is_gpu and descriptor.supports_half
    return LoadedUpscaler(descriptor, device.torch_device, torch.float16 if half else torch.float32)


def default_tile(device_kind: str) -> int:
    return CPU_TILE if device_kind == "cpu" else GPU_TILE


def upscaler_key(model: InstalledModel) -> str:
    return f"upscaler:{model.id}"


def passes_for(scale: float, model_scale: int) -> int:
    """How many times the model runs to reach `scale` (then resized down to it exactly)."""
    if model_scale <= 1:
        return 1
    return max(1, math.ceil(math.log(scale) / math.log(model_scale) - 1e-9))


def read_source(path: Path) -> np.ndarray:
    """The picture as an (h, w, 3) uint8 array, upright, any mode to RGB."""
    from PIL import Image, ImageOps

    from ..image_formats import register_heif

    register_heif()
    try:
        with Image.open(path) as opened:
            if opened.width * opened.height > MAX_SOURCE_PIXELS:
                raise ValueError(f"{path.name} is too large to upscale ({opened.width}x{opened.height})")
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{path.name} cannot be read ({exc})") from exc
    return np.asarray(image)


class PreviewCanvas:
    """A small picture of the result so far: the source enlarged, each finished tile pasted over it."""

    def __init__(self, image: np.ndarray, scale: int):
        from PIL import Image

        height, width = image.shape[:2]
        self.factor = min(1.0, PREVIEW_SIDE / (max(height, width) * scale)) * scale  # preview px per input px
        size = (max(1, round(width * self.factor)), max(1, round(height * self.factor)))
        self.canvas = np.array(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))

    def paste(self, box: tuple[int, int, int, int], result: Any) -> np.ndarray:
        import torch.nn.functional as F

        x, y, width, height = box
        left, top = round(x * self.factor), round(y * self.factor)
        right = min(self.canvas.shape[1], round((x + width) * self.factor))
        bottom = min(self.canvas.shape[0], round((y + height) * self.factor))
        if right > left and bottom > top:
            small = F.interpolate(result[None], size=(bottom - top, right - left), mode="area")[0]
            self.canvas[top:bottom, left:right] = small.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
        return self.canvas.copy()


def _free_device_memory(device: Any) -> None:
    import torch

    if device.kind == "cuda":
        torch.cuda.empty_cache()


def upscale_array(
    job: JobContext, loaded: LoadedUpscaler, image: np.ndarray, scale: float, tile: int
) -> tuple[np.ndarray, int, int]:
    """(the picture at `scale`, the tile size that worked, passes run), with progress and previews."""
    from PIL import Image

    passes = passes_for(scale, loaded.scale)
    height, width = image.shape[:2]
    target = (round(width * scale), round(height * scale))
    for number in range(1, passes + 1):
        canvas = PreviewCanvas(image, loaded.scale)
        what = f"pass {number}/{passes}, " if passes > 1 else ""

        def on_tile(done: int, total: int, box: tuple[int, int, int, int], result: Any) -> None:
            job.progress(done, total, f"{what}tile {done}/{total}")
            job.preview(TilePreview(done, total, canvas.paste(box, result)))
            job.checkpoint()  # raises Cancelled between tiles

        tile_size = tile if loaded.tiles else max(image.shape[:2])
        image, tile = run_tiles_halving(
            loaded, image, loaded.scale, tile_size, None, on_tile,
            on_tile_size=lambda size: job.progress(0, None, f"{what}tiles of {size} pixels"),
            free_memory=lambda: _free_device_memory(job.device),
        )
    if (image.shape[1], image.shape[0]) != target:
        image = np.asarray(Image.fromarray(image).resize(target, Image.Resampling.LANCZOS))
    return image, tile, passes


# Hands a saved picture to the library: (path, prompt) → its embedding job, if one was queued.
KeepPicture = Callable[[Path, str], Optional[JobHandle]]


def upscale_image(
    job: JobContext,
    registry: "ModelRegistry",
    outputs: Path,
    keep: KeepPicture,
    request: UpscaleRequest,
) -> UpscaledImage:
    """The job function: load (or reuse) the model, upscale in tiles, write the PNG, hand it to the library."""
    from PIL import Image

    model = registry.resolve(UPSCALER_KIND, request.model_id)
    scale = float(request.scale or upscaler_scale(model))
    source = read_source(request.image)
    height, width = source.shape[:2]
    if round(width * scale) * round(height * scale) > MAX_OUTPUT_PIXELS:
        raise ValueError(
            f"{request.image.name} at {scale:g}x would be {round(width * scale)}x{round(height * scale)} pixels; "
            f"at most {MAX_OUTPUT_PIXELS // 2**20} megapixels: choose a smaller scale"
        )
    if passes_for(scale, upscaler_scale(model)) > MAX_PASSES:
        raise ValueError(f"{model.id} upscales {upscaler_scale(model)}x: {scale:g}x would take more than "
                         f"{MAX_PASSES} passes; choose a model with a larger scale")
    settings: UpscaledSettings = upscaled_settings(request.image, model.id, scale)
    job.progress(0, None, f"loading {model.id}")
    device = job.device
    tile = request.tile or default_tile(device.kind)
    with job.models.use(upscaler_key(model), lambda: load_for(model, device)) as loaded:
        job.checkpoint()
        started = time.perf_counter()
        result, tile, passes = upscale_array(job, loaded, source, scale, tile)
        seconds = time.perf_counter() - started
    job.progress(0, None, "saving")
    picture = Image.fromarray(result)
    del result  # a 4x picture is hundreds of megabytes: keep one copy while the PNG is written
    path = write_new_file(
        outputs,
        settings.seed,
        f"x{scale:g} {settings.prompt or request.image.stem}",
        lambda target: picture.save(target, format="PNG", pnginfo=png_text(settings)),
    )
    library_job = keep(path, settings.prompt)
    return UpscaledImage(
        path, Path(request.image), model.id, scale, picture.width, picture.height, seconds, tile, passes, library_job
    )
