"""open_clip's CLIP tokenizer without torch, from the BPE vocabulary open_clip ships in its package.

`open_clip.tokenizer` imports torch (its tokenizer returns tensors), which costs seconds a text
query should not pay. This is the same algorithm (ftfy and HTML clean-up, lower case, the same
split pattern, byte-level BPE, start/end tokens, truncation that keeps the end token), returning
numpy; tests hold it to open_clip's token ids. The vocabulary is found without importing
open_clip.
"""

from __future__ import annotations

import functools
import gzip
import html
import importlib.util
import logging
import re
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..atomic_files import atomic_write

log = logging.getLogger(__name__)

VOCABULARY_FILE = "bpe_simple_vocab_16e6.txt.gz"
# The original CLIP tokenizer keeps this many merges (49152 tokens less 256 bytes and 2 specials).
MERGE_COUNT = 49152 - 256 - 2
# The merges as plain text, kept beside a model's exported text tower: a cold query reads them in
# 5 ms instead of 47 ms to decompress and split the package's file.
MERGES_CACHE = "clip-merges.txt"
DEFAULT_CONTEXT_LENGTH = 77
# open_clip's SimpleTokenizer names its specials so; HF's vocab.json calls them <|startoftext|> …
START, END = "<start_of_text>", "<end_of_text>"
SPLIT = r"""{specials}|'s|'t|'re|'ve|'m|'ll|'d|[\p{{L}}]+|[\p{{N}}]|[^\s\p{{L}}\p{{N}}]+"""
# The same split for ASCII text, where letters are a-z and numbers 0-9: most queries are ASCII, and
# a cold query then needs neither the `regex` module (50 ms to import) nor ftfy (53 ms).
ASCII_SPLIT = re.compile(
    rf"""{re.escape(START)}|{re.escape(END)}|'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+""", re.IGNORECASE)


def vocabulary_file() -> Path:
    """open_clip's vocabulary file, located without running `import open_clip` (which imports torch)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("open_clip is not installed: it ships the CLIP vocabulary")
    return Path(next(iter(spec.submodule_search_locations))) / VOCABULARY_FILE


@functools.lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """Each byte → a printable character, as CLIP's byte-level BPE spells bytes."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes)))


@functools.lru_cache(maxsize=4)
def merges(cache_folder: Optional[Path] = None) -> list[str]:
    """The merges in rank order, each as the file writes it: the two parts and a space between
    (kept as text: splitting 48,894 lines into pairs cost a cold query about 150 ms). With
    `cache_folder`, read from (or written to) its plain-text copy, which names the size and time
    of the file it came from on its first line."""
    source = vocabulary_file()
    st = source.stat()
    stamp = f"{VOCABULARY_FILE} {st.st_size} {st.st_mtime_ns} {MERGE_COUNT}"
    cache = cache_folder / MERGES_CACHE if cache_folder is not None else None
    if cache is not None and cache.is_file():
        lines = cache.read_text(encoding="utf-8").split("\n")
        if lines[0] == stamp and len(lines) == MERGE_COUNT + 1:
            return lines[1:]
    lines = gzip.decompress(source.read_bytes()).decode("utf-8").split("\n")[1 : MERGE_COUNT + 1]
    if cache is not None:
        try:
            with atomic_write(cache) as fh:
                fh.write("\n".join([stamp, *lines]))
        except OSError as exc:  # a read-only model folder: the package's file is read each time
            log.info("could not keep the CLIP merges in %s: %s", cache, exc)
    return lines


def base_tokens(cache_folder: Optional[Path] = None) -> list[str]:
    """Every token but the two specials, in id order: bytes, bytes ending a word, then merges
    (byte-level tokens hold no spaces, so a merge's token is its line without the space)."""
    byte_tokens = list(bytes_to_unicode().values())
    return byte_tokens + [t + "</w>" for t in byte_tokens] + [m.replace(" ", "") for m in merges(cache_folder)]


class ClipBpeTokenizer:
    """Text → (N, context_length) int64 token ids, identical to open_clip's SimpleTokenizer
    with its default settings (clean="lower", no reduction mask, no extra special tokens)."""

    def __init__(self, context_length: int = DEFAULT_CONTEXT_LENGTH, cache_folder: Optional[Path] = None):
        self.context_length = context_length
        self.encoder = {token: i for i, token in enumerate(base_tokens(cache_folder) + [START, END])}
        self.start_id, self.end_id = self.encoder[START], self.encoder[END]
        self.ranks = {pair: rank for rank, pair in enumerate(merges(cache_folder))}  # "left right" → rank
        self.byte_encoder = bytes_to_unicode()
        self._cache = {START: START, END: END}

    @functools.cached_property
    def pattern(self):  # the Unicode split (`regex` knows \p{L}), made for the first non-ASCII text
        import regex

        return regex.compile(SPLIT.format(specials=f"{START}|{END}"), regex.IGNORECASE)

    def split(self, text: str) -> list[str]:
        return ASCII_SPLIT.findall(text) if text.isascii() else self.pattern.findall(text)

    @staticmethod
    def clean(text: str) -> str:
        # ftfy changes nothing in printable ASCII without an HTML entity (its fixes are for
        # mojibake, curly quotes, wide forms, control characters and entities).
        if not (text.isascii() and text.isprintable() and "&" not in text):
            import ftfy

            text = ftfy.fix_text(text)
        text = html.unescape(html.unescape(text)).strip()
        return " ".join(text.split()).lower()

    def bpe(self, token: str) -> str:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda pair: self.ranks.get(f"{pair[0]} {pair[1]}", float("inf")))
            if f"{best[0]} {best[1]}" not in self.ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == best[0] and word[i + 1] == best[1]:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        result = " ".join(word)
        self._cache[token] = result
        return result

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in self.split(self.clean(text)):
            spelled = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(spelled).split(" "))
        return ids

    def __call__(self, texts: Sequence[str] | str) -> np.ndarray:
        if isinstance(texts, str):
            texts = [texts]
        result = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.start_id] + self.encode(text) + [self.end_id]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.end_id
            result[row, : len(ids)] = ids
        return result
