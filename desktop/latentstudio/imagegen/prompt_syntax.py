"""AUTOMATIC1111's prompt syntax, without torch: `<lora:NAME:W>` tags, `(word:1.3)`, `(word)`,
`[word]`, `\\(` escapes, `BREAK`, and the 75-token chunks long prompts are encoded in.

Libraries checked before writing this: `compel` 2.5.1 (PyPI) parses its own syntax (`word++`,
`(word)1.3`, `.and()`), not A1111's `(word:1.3)`/`[word]`/`BREAK`, and weights by blending with
an empty prompt rather than A1111's scale-and-restore-the-mean; `sd_embed` (xhinker) is not on
PyPI (installed from git only) and has no `BREAK`. So the rules are written here, from A1111's
documented behaviour, and held to it by tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

CHUNK_TOKENS = 75  # CLIP's 77 positions less the start and end tokens
ROUND_MULTIPLIER = 1.1  # each ( ) multiplies attention by 1.1, each [ ] divides by it
COMMA_BACKTRACK = 20  # a chunk that fills up within this many tokens of a comma ends at the comma


class PromptSyntaxError(ValueError):
    """A tag or weight the user typed that cannot be read; the message quotes it."""


@dataclass(frozen=True)
class LoraTag:
    """`<lora:NAME:W>` or `<lora:NAME:TE_W:UNET_W>`: a LoRA and its text-encoder and UNet weights."""

    name: str
    te_weight: float = 1.0
    unet_weight: float = 1.0

    def tag(self) -> str:
        if self.te_weight == self.unet_weight:
            return f"<lora:{self.name}:{_number(self.unet_weight)}>"
        return f"<lora:{self.name}:{_number(self.te_weight)}:{_number(self.unet_weight)}>"


def _number(value: float) -> str:
    return f"{value:g}"


_LORA_TAG = re.compile(r"<(lora|lyco):([^>]*)>", re.IGNORECASE)


def _weight(text: str, tag: str) -> float:
    try:
        value = float(text.split("=", 1)[-1].strip())  # A1111 also takes `te=0.5` / `unet=0.8`
    except ValueError as exc:
        raise PromptSyntaxError(f"{tag}: {text.strip()!r} is not a weight (a number like 0.8)") from exc
    if not -10 <= value <= 10:
        raise PromptSyntaxError(f"{tag}: weight {value:g} is outside -10…10")
    return value


def extract_loras(prompt: str) -> tuple[str, list[LoraTag]]:
    """(the prompt without its LoRA tags, the tags in order). A LoRA named twice keeps its last weights."""
    found: dict[str, LoraTag] = {}

    def take(match: "re.Match[str]") -> str:
        tag = match.group(0)
        fields = [f.strip() for f in match.group(2).split(":")]
        if not fields[0]:
            raise PromptSyntaxError(f"{tag}: no LoRA name")
        if len(fields) > 3:
            raise PromptSyntaxError(f"{tag}: expected <lora:NAME:WEIGHT> or <lora:NAME:TE_WEIGHT:UNET_WEIGHT>")
        named = {f.split("=", 1)[0].strip().lower(): f for f in fields[1:] if "=" in f}
        positional = [f for f in fields[1:] if "=" not in f]
        te = _weight(named["te"], tag) if "te" in named else (_weight(positional[0], tag) if positional else 1.0)
        if "unet" in named:
            unet = _weight(named["unet"], tag)
        elif len(positional) > 1:
            unet = _weight(positional[1], tag)
        else:
            unet = te
        found.pop(fields[0], None)
        found[fields[0]] = LoraTag(fields[0], te, unet)
        return ""

    cleaned = _LORA_TAG.sub(take, prompt)
    cleaned = re.sub(r"[ \t]+(?=[,\n])", "", re.sub(r"[ \t]{2,}", " ", cleaned))  # no space left before a comma
    return cleaned.strip(), list(found.values())


# -- attention: (word:1.3), (word), [word], escapes, BREAK --------------------------------------

BREAK = None  # a piece that is None ends the current chunk
Piece = Optional[tuple[str, float]]

_ATTENTION = re.compile(
    r"""
    \\[()\[\]\\]                                  # an escaped bracket or backslash: literal
  | \(                                            # open a (…) group
  | \[                                            # open a […] group
  | :\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*\)       # ":1.3)" closes a (…) group with its own weight
  | \)
  | \]
  | [^\\()\[\]:]+                                 # plain text
  | [\\:]                                         # a lone backslash or colon: literal
    """,
    re.VERBOSE,
)
_BREAK = re.compile(r"\s*\bBREAK\b\s*")


def parse_attention(text: str) -> list[Piece]:
    """The prompt as (text, weight) pieces in order, BREAK as None; equal neighbours merged.

    As A1111: `(x)` is x × 1.1, `((x))` × 1.21, `[x]` ÷ 1.1, `(x:1.3)` × 1.3 (nested groups
    multiply), `\\(` is a literal bracket, an unclosed group weights the rest of the prompt.
    """
    pieces: list[list] = []  # [text, weight] or [None, None] for BREAK
    round_opened: list[int] = []
    square_opened: list[int] = []

    def scale(start: int, factor: float) -> None:
        for piece in pieces[start:]:
            if piece[0] is not None:
                piece[1] *= factor

    for match in _ATTENTION.finditer(text):
        token, weight = match.group(0), match.group(1)
        if token.startswith("\\") and len(token) == 2:
            pieces.append([token[1], 1.0])
        elif token == "(":
            round_opened.append(len(pieces))
        elif token == "[":
            square_opened.append(len(pieces))
        elif weight is not None and round_opened:
            scale(round_opened.pop(), float(weight))
        elif token == ")" and round_opened:
            scale(round_opened.pop(), ROUND_MULTIPLIER)
        elif token == "]" and square_opened:
            scale(square_opened.pop(), 1 / ROUND_MULTIPLIER)
        else:
            parts = _BREAK.split(token)
            for index, part in enumerate(parts):
                if index:
                    pieces.append([None, None])
                if part:
                    pieces.append([part, 1.0])
    for start in round_opened:
        scale(start, ROUND_MULTIPLIER)
    for start in square_opened:
        scale(start, 1 / ROUND_MULTIPLIER)

    merged: list[Piece] = []
    for text_part, weight in pieces:
        if text_part is None:
            merged.append(BREAK)
            continue
        last = merged[-1] if merged else BREAK
        if last is not BREAK and last[1] == weight:
            merged[-1] = (last[0] + text_part, weight)
        else:
            merged.append((text_part, weight))
    return merged or [("", 1.0)]


# -- 75-token chunks -----------------------------------------------------------------------------

# A token id, or a run of textual-inversion vectors that must stay together (its name and length).
@dataclass(frozen=True)
class EmbeddingRun:
    name: str
    vectors: int


Token = Union[int, EmbeddingRun]


@dataclass
class Chunk:
    """Up to 75 tokens with their weights; an EmbeddingRun fills `vectors` positions."""

    tokens: list[Token]
    weights: list[float]

    @property
    def length(self) -> int:
        return sum(t.vectors if isinstance(t, EmbeddingRun) else 1 for t in self.tokens)


def split_chunks(
    pieces: Sequence[Optional[tuple[Sequence[Token], float]]], comma_id: Optional[int] = None
) -> list[Chunk]:
    """Tokenised pieces → chunks of at most 75 positions, as A1111 makes them: BREAK starts a new
    chunk; a full chunk ends at its last comma when that is within 20 tokens; an embedding never
    straddles two chunks. An empty prompt is one empty chunk."""
    chunks: list[Chunk] = []
    current = Chunk([], [])
    last_comma = -1

    def close() -> None:
        nonlocal current, last_comma
        chunks.append(current)
        current = Chunk([], [])
        last_comma = -1

    for piece in pieces:
        if piece is None:
            close()
            continue
        tokens, weight = piece
        for token in tokens:
            size = token.vectors if isinstance(token, EmbeddingRun) else 1
            if size > CHUNK_TOKENS:
                raise PromptSyntaxError(f"embedding {token.name} has {size} vectors; at most {CHUNK_TOKENS} fit")
            if current.length + size > CHUNK_TOKENS:
                if (
                    not isinstance(token, EmbeddingRun)
                    and last_comma >= 0
                    and len(current.tokens) - last_comma <= COMMA_BACKTRACK
                ):
                    cut = last_comma + 1
                    rest = Chunk(current.tokens[cut:], current.weights[cut:])
                    current = Chunk(current.tokens[:cut], current.weights[:cut])
                    close()
                    current = rest
                else:
                    close()
            if comma_id is not None and token == comma_id:
                last_comma = len(current.tokens)
            current.tokens.append(token)
            current.weights.append(weight)
    if current.tokens or not chunks:
        close()
    return chunks


def count_chunks(prompt: str, tokenize: Callable[[str], Sequence[int]]) -> tuple[int, int]:
    """(tokens, chunks) of a prompt, for the counter beside the prompt: LoRA tags and attention
    brackets do not count; `tokenize` turns plain text into ids without start/end tokens."""
    text, _ = extract_loras(prompt)
    pieces: list[Optional[tuple[Sequence[Token], float]]] = [
        None if piece is BREAK else (list(tokenize(piece[0])), piece[1]) for piece in parse_attention(text)
    ]
    comma = list(tokenize(","))
    chunks = split_chunks(pieces, comma_id=comma[0] if len(comma) == 1 else None)
    return sum(c.length for c in chunks), len(chunks)
