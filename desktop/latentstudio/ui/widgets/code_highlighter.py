"""A QSyntaxHighlighter driven by Pygments: code in one language, or only inside the ``` fences
of a Markdown answer (each fence highlighted in the language its tag names)."""

from __future__ import annotations

from typing import Any, Optional

from pygments.lexers import get_lexer_by_name
from pygments.styles import get_style_by_name
from pygments.token import Token
from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextDocument

from ...codegen.languages import LANGUAGES, find_language, get_language
from ..theme import is_dark, theme_signals

OUTSIDE = 0  # block state outside a fence; inside: 1 + index of the fence's language in LANGUAGES
FENCE_MARKS = ("```", "~~~")


class PygmentsHighlighter(QSyntaxHighlighter):
    def __init__(
        self,
        document: QTextDocument,
        language: str = "python",
        fenced: bool = False,
    ):
        super().__init__(document)
        self.fenced = fenced
        self._formats: dict[Any, QTextCharFormat] = {}
        self._style = self._theme_style()
        self._lexers: dict[str, Any] = {}
        self._language_index = 0
        self._fence_format = QTextCharFormat()
        self._fence_format.setForeground(QColor("#888888"))
        self.set_language(language)
        theme_signals().changed.connect(self.follow_theme)

    @property
    def style_name(self) -> str:
        return self._style.name

    @staticmethod
    def _theme_style() -> Any:
        return get_style_by_name("monokai" if is_dark() else "default")

    def follow_theme(self) -> None:
        """Colours for the current theme (dark code on a light page, light code on a dark one)."""
        style = self._theme_style()
        if style is not self._style:
            self._style = style
            self._formats.clear()
            self.rehighlight()

    @property
    def language(self) -> str:
        return LANGUAGES[self._language_index].name

    def set_language(self, name: str) -> None:
        """The language of unfenced code (fenced mode: of fences without a known tag)."""
        language = get_language(name)
        index = LANGUAGES.index(language)
        if index != self._language_index or not self._lexers:
            self._language_index = index
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt override)
        if not self.fenced:
            self._highlight(text, self._language_index)
            return
        previous = max(self.previousBlockState(), OUTSIDE)
        stripped = text.strip()
        if stripped.startswith(FENCE_MARKS):
            self.setFormat(0, len(text), self._fence_format)
            if previous != OUTSIDE:
                self.setCurrentBlockState(OUTSIDE)
            else:
                tagged = find_language(stripped.lstrip("`~").strip().split(" ")[0])
                index = LANGUAGES.index(tagged) if tagged else self._language_index
                self.setCurrentBlockState(1 + index)
        elif previous != OUTSIDE:
            self._highlight(text, previous - 1)
            self.setCurrentBlockState(previous)
        else:
            self.setCurrentBlockState(OUTSIDE)

    def _highlight(self, text: str, language_index: int) -> None:
        offset = 0
        for token_type, value in self._lexer(language_index).get_tokens(text):
            text_format = self._format(token_type)
            if text_format is not None:
                self.setFormat(offset, len(value), text_format)
            offset += len(value)

    def _lexer(self, language_index: int) -> Any:
        alias = LANGUAGES[language_index].lexer
        lexer = self._lexers.get(alias)
        if lexer is None:
            # One line at a time: no added or stripped newlines, so offsets match the block's text.
            lexer = get_lexer_by_name(alias, stripnl=False, stripall=False, ensurenl=False)
            self._lexers[alias] = lexer
        return lexer

    def _format(self, token_type: Any) -> Optional[QTextCharFormat]:
        if token_type in self._formats:
            return self._formats[token_type]
        style = self._style.style_for_token(token_type) if token_type is not Token else {}
        text_format: Optional[QTextCharFormat] = None
        if style.get("color") or style.get("bold") or style.get("italic"):
            text_format = QTextCharFormat()
            if style.get("color"):
                text_format.setForeground(QColor(f"#{style['color']}"))
            if style.get("bold"):
                text_format.setFontWeight(QFont.Weight.Bold)
            if style.get("italic"):
                text_format.setFontItalic(True)
        self._formats[token_type] = text_format
        return text_format
