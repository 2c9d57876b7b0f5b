"""The Code page."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from .needs_model import NeedsModelPage, placeholder


class CodePage(NeedsModelPage):
    kind = "llm"

    def build_content(self) -> QWidget:
        return placeholder("Code tools appear here.")
