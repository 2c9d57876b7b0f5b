"""Models: the registry of installed models, content-based detection, and per-kind loaders."""

from .detect import KINDS, DetectedModel, UnsupportedModelError, detect_model
from .registry import InstalledModel, MissingModelError, ModelNotFoundError, ModelRegistry

__all__ = [
    "KINDS",
    "DetectedModel",
    "InstalledModel",
    "MissingModelError",
    "ModelNotFoundError",
    "ModelRegistry",
    "UnsupportedModelError",
    "detect_model",
]
