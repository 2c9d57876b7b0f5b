"""The Pygments-based highlighter: code coloured, prose in a Markdown answer left alone."""

from __future__ import annotations

from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QPlainTextEdit

from latentstudio.ui.widgets.code_highlighter import PygmentsHighlighter


def _editor(qtbot) -> QPlainTextEdit:
    """An editor, as on the page: a bare QTextDocument is never laid out, so never highlighted."""
    editor = QPlainTextEdit()
    qtbot.addWidget(editor)
    return editor


def _coloured(document: QTextDocument) -> dict[str, set[str]]:
    """Line → the colours applied on it by the highlighter."""
    result = {}
    block = document.begin()
    while block.isValid():
        result[block.text()] = {r.format.foreground().color().name() for r in block.layout().formats()}
        block = block.next()
    return result


def test_fenced_mode_colours_only_inside_fences(qtbot) -> None:
    editor = _editor(qtbot)
    document = editor.document()
    highlighter = PygmentsHighlighter(document, "python", fenced=True)
    document.setPlainText("def is a word here\n```python\ndef add(a, b):\n```\nreturn to prose")
    lines = _coloured(document)
    assert lines["def is a word here"] == set()
    assert lines["return to prose"] == set()
    assert len(lines["def add(a, b):"]) >= 2  # keyword and function name differ
    assert highlighter.language == "python"


def test_fence_tag_picks_the_lexer(qtbot) -> None:
    editor = _editor(qtbot)
    document = editor.document()
    PygmentsHighlighter(document, "python", fenced=True)
    document.setPlainText("```rust\nfn main() { let x = 1; }\n```\n```\nfn main() { let x = 1; }\n```")
    block = document.findBlockByNumber(1)
    rust = {(r.start, r.length) for r in block.layout().formats()}
    block = document.findBlockByNumber(4)  # untagged: the page's language (Python) lexes it
    python = {(r.start, r.length) for r in block.layout().formats()}
    assert rust and rust != python


def test_plain_mode_follows_the_chosen_language(qtbot) -> None:
    editor = _editor(qtbot)
    document = editor.document()
    highlighter = PygmentsHighlighter(document, "python")
    document.setPlainText("SELECT name FROM users WHERE id = 1")
    before = _coloured(document)
    highlighter.set_language("sql")
    after = _coloured(document)
    assert before != after and len(next(iter(after.values()))) >= 2
