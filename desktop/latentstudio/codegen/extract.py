"""Pull fenced code blocks out of a model's answer (Markdown ``` or ~~~ fences)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .languages import Language, find_language

# An opening fence: three or more backticks or tildes, an optional info string.
_OPEN = re.compile(r"^(?P<indent>[ \t]{0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")


@dataclass(frozen=True)
class CodeBlock:
    tag: str  # the fence's language tag as written ("" when none)
    code: str
    closed: bool  # False for a block cut off by the end of the answer (e.g. after Stop)


def extract_code_blocks(text: str) -> list[CodeBlock]:
    """Every fenced block, in order. An unclosed last fence runs to the end of the text."""
    blocks: list[CodeBlock] = []
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        opening = _OPEN.match(lines[index].rstrip("\r\n"))
        index += 1
        if opening is None:
            continue
        fence = opening.group("fence")
        tag = opening.group("info").strip().split(" ")[0] if opening.group("info").strip() else ""
        body: list[str] = []
        closed = False
        while index < len(lines):
            line = lines[index]
            index += 1
            stripped = line.strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                closed = True
                break
            body.append(line)
        blocks.append(CodeBlock(tag, "".join(body), closed))
    return blocks


def _matches(block: CodeBlock, language: Optional[Language]) -> bool:
    if language is None or not block.tag:
        return True
    return find_language(block.tag) == language


def extract_code(text: str, language: Optional[Language] = None) -> str:
    """The code of an answer: its fenced blocks in `language` (all blocks when none match),
    joined by a blank line; the whole answer when it has no fenced block."""
    blocks = extract_code_blocks(text)
    if not blocks:
        return text
    chosen = [b for b in blocks if _matches(b, language)] or blocks
    return "\n".join(b.code if b.code.endswith("\n") else b.code + "\n" for b in chosen)
