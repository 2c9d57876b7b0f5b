"""Latent Studio: an offline multimodal desktop studio on one CLIP embedding space."""

__version__ = "0.1.0"
