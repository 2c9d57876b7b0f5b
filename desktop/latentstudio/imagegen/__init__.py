"""Image generation: diffusion jobs on the inference thread, step previews, PNG metadata."""

from .generate import GeneratedImage, generate_image
from .service import submit_images
from .metadata import ImageMetadata, read_metadata
from .preview import StepPreview
from .request import ImageRequest, ImageSpec, parse_size
from .schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES

__all__ = [
    "DEFAULT_SCHEDULER",
    "GeneratedImage",
    "ImageRequest",
    "ImageMetadata",
    "ImageSpec",
    "SCHEDULER_NAMES",
    "StepPreview",
    "generate_image",
    "parse_size",
    "read_metadata",
    "submit_images",
]
