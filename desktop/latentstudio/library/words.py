"""Words a picture's file carries, for keyword search beside the picture search.

Indexed per image (SQLite FTS5, see store/keywords.py): its name (the path inside its library folder,
without the extension, so folder names count too) and the text embedded in the file: a
generator's prompt (never its negative prompt), EXIF/XMP/IPTC descriptions, titles, keywords and
comments; and what an XMP sidecar beside it says (Lightroom and Capture One write `photo.xmp`,
darktable and digiKam `photo.jpg.xmp`): keywords, hierarchical keywords, title, description, and
the rating and colour label the Filters panel offers. Sidecars are read, never written. Queries
become FTS5 expressions from quoted tokens only, so nothing typed is ever read as FTS syntax.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

MAX_WORDS_TEXT = 8_000
DESCRIPTIVE_FIELDS = (
    "exif:ImageDescription", "xmp:title", "xmp:description", "xmp:subject", "xmp:hierarchicalSubject",
    "iptc:ObjectName", "iptc:Caption", "iptc:Keywords", "exif:XPTitle", "exif:XPComment", "exif:XPKeywords",
    "Description", "Title",
)
SIDECAR_FIELDS = ("xmp:title", "xmp:description", "xmp:subject", "xmp:hierarchicalSubject")
MAX_SIDECAR_BYTES = 4 * 2**20  # a sidecar is a few kilobytes; a huge one is read this far
COMMENT_FIELDS = ("exif:UserComment", "comment", "Comment", "xmp:UserComment")  # words unless they hold settings
TOKEN = re.compile(r"\w+", re.UNICODE)
# Words too common to say anything about a file; a query of only these searches pictures alone.
STOPWORDS = frozenset(
    "a an the of at in on and or with to for from by is are as it its this that photo picture image".split()
)


def name_words(path: str, folder: Optional[str] = None) -> str:
    """The words of a file's name and its folders inside the library folder: `2019 Paris/IMG_1.jpg`."""
    relative = os.path.relpath(path, folder) if folder else os.path.basename(path)
    if relative.startswith(".."):
        relative = os.path.basename(path)
    return os.path.splitext(relative)[0]


@dataclass(frozen=True)
class FileWords:
    """What a file (and its sidecar) says about its picture."""

    text: str
    rating: Optional[int] = None  # xmp:Rating: -1 rejected, 0 unrated, 1–5 stars
    label: Optional[str] = None  # xmp:Label: a colour label ("Red", "Select" …)


def sidecar_candidates(path: str) -> tuple[str, str]:
    """Where a file's XMP sidecar may be: `photo.jpg.xmp` (darktable, digiKam), `photo.xmp`
    (Lightroom, Capture One), compared without case."""
    return (path + ".xmp").lower(), (os.path.splitext(path)[0] + ".xmp").lower()


def sidecar_fields(sidecar: Path) -> dict[str, str]:
    from ..imagegen.readers.containers import xmp_fields

    try:
        with open(sidecar, "rb") as stream:
            return xmp_fields(stream.read(MAX_SIDECAR_BYTES))
    except OSError:  # gone or unreadable since the walk: the picture keeps its own words
        return {}


def _rating(text: Optional[str]) -> Optional[int]:
    try:
        value = round(float(text)) if text else None
    except ValueError:
        return None
    return None if value is None else max(-1, min(5, value))


def file_words(path: Path, sidecar: Optional[Path] = None) -> FileWords:
    """Text a file carries about its picture (prompt, descriptions, keywords), read without
    decoding pixels, with what its sidecar says first (the sidecar is where photo tools keep
    the user's latest edits)."""
    from ..imagegen.readers import parse_fields
    from ..imagegen.readers.containers import read_fields

    try:
        _, fields = read_fields(Path(path))
    except ValueError:  # unreadable (or a RAW or a video): the decoder records why; no words inside
        fields = {}
    side = sidecar_fields(sidecar) if sidecar is not None else {}
    meta = parse_fields(fields)
    parts = [meta.prompt] if meta is not None and meta.prompt else []
    parts += [side[name] for name in SIDECAR_FIELDS if side.get(name)]
    parts += [fields[name] for name in DESCRIPTIVE_FIELDS if fields.get(name)]
    if meta is None:  # otherwise the comment is where the settings came from
        parts += [fields[name] for name in COMMENT_FIELDS if fields.get(name) and not fields[name].lstrip().startswith("{")]
    # Hierarchical keywords ("Places|France|Paris") are words at every level.
    text = "\n".join(dict.fromkeys(p.strip().replace("|", " ") for p in parts if p.strip()))
    rating = _rating(side.get("xmp:Rating")) if "xmp:Rating" in side else _rating(fields.get("xmp:Rating"))
    label = (side.get("xmp:Label") or fields.get("xmp:Label") or "").strip() or None
    return FileWords(text[:MAX_WORDS_TEXT], rating, label)


def _quoted(words: list[str]) -> str:
    return '"' + " ".join(w.replace('"', '""') for w in words) + '"'


@dataclass(frozen=True)
class KeywordQuery:
    terms: tuple[str, ...]  # the query's words, each a quoted FTS5 token
    phrases: Optional[str]  # FTS5 expression every result must match (the "quoted phrases"), or None
    excluded: Optional[str] = None  # FTS5 expression of the negative terms: their matches are left out

    @property
    def any_terms(self) -> Optional[str]:
        """FTS5 expression: any of the query's words."""
        return " OR ".join(self.terms) if self.terms else None


def _meaningful(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t not in STOPWORDS]


def keyword_query(text: Optional[str], negative_terms: Sequence[str] = ()) -> Optional[KeywordQuery]:
    """The keyword side of a search text: its words (OR) and its quoted phrases (AND), or None.

    Negative terms (`-word`, `-"a phrase"`, and `negative_terms`) leave out files whose words
    hold them (stopwords dropped: -"a red car" leaves out files that say "red car").
    """
    from .query import parse_terms

    words: list[str] = []
    phrases: list[str] = []
    negatives: list[str] = []
    for term in negative_terms:
        if tokens := _meaningful(TOKEN.findall(term.lower())):
            negatives.append(_quoted(tokens))
    for term in parse_terms(text):
        tokens = TOKEN.findall(term.text.lower())
        if term.negative:
            if tokens := _meaningful(tokens):
                negatives.append(_quoted(tokens))
        elif term.quoted:
            if tokens:
                phrases.append(_quoted(tokens))
                words += tokens
        else:
            words += tokens
    meaningful = _meaningful(list(dict.fromkeys(words)))
    if not meaningful and not phrases:
        return None
    return KeywordQuery(
        tuple(_quoted([w]) for w in meaningful),
        " AND ".join(phrases) if phrases else None,
        " OR ".join(negatives) if negatives else None,
    )
