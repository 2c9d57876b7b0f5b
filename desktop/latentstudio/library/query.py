"""The search box's grammar, read once for both sides of a search: the pictures (what CLIP is
asked) and the words (what file names, prompts and captions must hold).

    beach sunset -people -"red car" "golden hour"

Words and `"quoted phrases"` are wanted; a leading `-` leaves a word or a phrase out. A lone `-`
and an empty `""` mean nothing. The negative field beside the box takes comma-separated terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

TERM = re.compile(r'(-?)"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class Term:
    text: str
    quoted: bool = False  # a "phrase": the words must hold it as written
    negative: bool = False  # -word or -"phrase": leave it out


def parse_terms(text: Optional[str]) -> list[Term]:
    """`beach -people -"red car"` → [Term("beach"), Term("people", negative), Term("red car", quoted, negative)]."""
    terms: list[Term] = []
    for match in TERM.finditer(text or ""):
        if match.group(2) is not None:
            phrase = match.group(2).strip()
            if phrase:
                terms.append(Term(phrase, quoted=True, negative=bool(match.group(1))))
            continue
        word = match.group(3)
        if word.startswith("-"):
            if len(word) > 1:
                terms.append(Term(word[1:], negative=True))
        else:
            terms.append(Term(word))
    return terms


def parse_query(text: Optional[str]) -> tuple[str, list[str]]:
    """The picture side: (what to look for, what to look away from).
    `beach -people -"red car"` → ("beach", ["people", "red car"])."""
    terms = parse_terms(text)
    return " ".join(t.text for t in terms if not t.negative), [t.text for t in terms if t.negative]


def split_terms(text: Optional[str]) -> list[str]:
    """The separate negative field: comma-separated terms."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]
