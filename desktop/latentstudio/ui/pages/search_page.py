"""The Search page."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from .needs_model import NeedsModelPage, placeholder


class SearchPage(NeedsModelPage):
    kind = "clip"

    def build_content(self) -> QWidget:
        return placeholder("Search tools appear here.")
