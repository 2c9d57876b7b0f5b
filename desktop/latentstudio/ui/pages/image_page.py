"""The Image page."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from .needs_model import NeedsModelPage, placeholder


class ImagePage(NeedsModelPage):
    kind = "diffusion"

    def build_content(self) -> QWidget:
        return placeholder("Image tools appear here.")
