"""Latent Studio: an offline multimodal desktop studio on one CLIP embedding space."""

# The one place the release is named: pyproject.toml, `doctor`, `--version`, Help → About and the
# installers read it from here. CHANGELOG.md says what each release changed.
__version__ = "0.2.0"
