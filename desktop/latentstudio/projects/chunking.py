"""Cut a source file into chunks by syntax: one per function or class (a large class by method,
each under the class's header line), the code between them in line windows; files of languages
without a grammar, or that do not parse, in line windows. Grammars come from per-language wheels
(tree-sitter-python, …) that ship them compiled: nothing is downloaded at run time."""

from __future__ import annotations

import functools
import importlib
import logging
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Optional

log = logging.getLogger(__name__)

WINDOW_LINES = 40
MAX_CHUNK_LINES = 120  # a definition longer than this is split (a class by method, else by window)


@dataclass(frozen=True)
class Chunk:
    start_line: int  # 1-based, inclusive
    end_line: int
    symbol: str  # "Class.method", "function", or "" for a window
    text: str


@dataclass(frozen=True)
class Grammar:
    module: str
    function: str
    definitions: frozenset[str]  # node types that are one chunk
    containers: frozenset[str]  # definitions whose member definitions are split out when large
    wrappers: frozenset[str]  # nodes around a definition (decorators, export)
    language: str  # the name code fences use


PY = Grammar("tree_sitter_python", "language", frozenset({"function_definition", "class_definition"}),
             frozenset({"class_definition"}), frozenset({"decorated_definition"}), "python")
_JS_DEFS = frozenset({"function_declaration", "generator_function_declaration", "class_declaration",
                      "method_definition", "interface_declaration", "type_alias_declaration", "enum_declaration",
                      "abstract_class_declaration"})
JS = Grammar("tree_sitter_javascript", "language", _JS_DEFS, frozenset({"class_declaration"}),
             frozenset({"export_statement"}), "javascript")
TS = Grammar("tree_sitter_typescript", "language_typescript", _JS_DEFS,
             frozenset({"class_declaration", "abstract_class_declaration"}), frozenset({"export_statement"}),
             "typescript")
TSX = Grammar("tree_sitter_typescript", "language_tsx", _JS_DEFS,
              frozenset({"class_declaration", "abstract_class_declaration"}), frozenset({"export_statement"}),
              "typescript")
GO = Grammar("tree_sitter_go", "language", frozenset({"function_declaration", "method_declaration",
                                                      "type_declaration"}), frozenset(), frozenset(), "go")
RUST = Grammar("tree_sitter_rust", "language", frozenset({"function_item", "impl_item", "struct_item", "enum_item",
                                                          "trait_item", "mod_item"}),
               frozenset({"impl_item", "trait_item", "mod_item"}), frozenset(), "rust")
GRAMMARS = {".py": PY, ".pyi": PY, ".js": JS, ".mjs": JS, ".cjs": JS, ".jsx": JS, ".ts": TS, ".tsx": TSX,
            ".go": GO, ".rs": RUST}


@functools.lru_cache(maxsize=None)
def _parser(grammar: Grammar) -> Optional[Any]:
    try:
        import tree_sitter

        module = importlib.import_module(grammar.module)
        return tree_sitter.Parser(tree_sitter.Language(getattr(module, grammar.function)()))
    except (ImportError, AttributeError, ValueError) as exc:  # a grammar wheel missing or too old
        log.warning("no %s grammar (%s): files are cut in line windows", grammar.module, exc)
        return None


def language_of(path: PurePath) -> str:
    grammar = GRAMMARS.get(path.suffix.lower())
    return grammar.language if grammar else path.suffix.lower().lstrip(".")


def chunk_file(path: PurePath, text: str) -> list[Chunk]:
    lines = text.splitlines()
    if not lines:
        return []
    grammar = GRAMMARS.get(path.suffix.lower())
    parser = _parser(grammar) if grammar else None
    if parser is None:
        return windows(lines, 1, len(lines))
    tree = parser.parse(text.encode("utf-8"))
    chunks: list[Chunk] = []
    _chunk_children(tree.root_node, grammar, lines, "", chunks, 1, len(lines))
    return chunks


def _name(node: Any) -> str:
    name = node.child_by_field_name("name")
    if name is None and node.type == "impl_item":
        name = node.child_by_field_name("type")
    if name is None and node.type == "type_declaration" and node.named_children:
        name = node.named_children[0].child_by_field_name("name")
    return name.text.decode("utf-8", errors="replace") if name is not None else ""


def _definition(node: Any, grammar: Grammar) -> Optional[Any]:
    """The definition a node is or wraps (a decorated function, an exported class), else None."""
    if node.type in grammar.definitions:
        return node
    if node.type in grammar.wrappers:
        for child in node.named_children:
            found = _definition(child, grammar)
            if found is not None:
                return found
    return None


def _chunk_children(parent: Any, grammar: Grammar, lines: list[str], prefix: str, chunks: list[Chunk],
                    first: int, last: int, header: str = "") -> None:
    """Definitions among `parent`'s children become chunks; the lines between them, windows."""
    gap_start = first
    body = parent.child_by_field_name("body") if parent.type in grammar.containers else None
    children = (body or parent).named_children
    for child in children:
        definition = _definition(child, grammar)
        if definition is None:
            continue
        start, end = child.start_point[0] + 1, child.end_point[0] + 1
        if start > gap_start:
            chunks.extend(windows(lines, gap_start, start - 1, header))
        symbol = f"{prefix}{_name(definition)}"
        if end - start + 1 > MAX_CHUNK_LINES and definition.type in grammar.containers:
            own_header = "\n".join(lines[start - 1:definition.start_point[0] + 1])  # decorators and the class line
            _chunk_children(definition, grammar, lines, symbol + ".", chunks, start, end, own_header)
        elif end - start + 1 > MAX_CHUNK_LINES:
            chunks.extend(windows(lines, start, end, header, symbol))
        else:
            chunks.append(_chunk(lines, start, end, symbol, header))
        gap_start = end + 1
    if gap_start <= last:
        chunks.extend(windows(lines, gap_start, last, header))


def _chunk(lines: list[str], start: int, end: int, symbol: str, header: str = "") -> Chunk:
    text = "\n".join(lines[start - 1:end])
    if header and not text.startswith(header):
        text = f"{header}\n    ...\n{text}"
    return Chunk(start, end, symbol, text)


def windows(lines: list[str], first: int, last: int, header: str = "", symbol: str = "") -> list[Chunk]:
    """Lines first..last in windows of WINDOW_LINES, blank-only windows left out."""
    chunks = []
    for start in range(first, last + 1, WINDOW_LINES):
        end = min(last, start + WINDOW_LINES - 1)
        if any(line.strip() for line in lines[start - 1:end]):
            chunks.append(_chunk(lines, start, end, symbol, header))
    return chunks
