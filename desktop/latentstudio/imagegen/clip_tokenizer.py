"""A CLIP tokenizer built offline from the BPE vocabulary that open_clip ships in its package.

Single-file checkpoints carry no tokenizer; every SD text encoder uses the same CLIP BPE
vocabulary, so building it here keeps loading free of any hub call and of megabytes of
committed vocabulary files.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path
from typing import Any

# The original CLIP tokenizer keeps this many merges (49152 tokens less 256 bytes and 2 specials).
MERGE_COUNT = 49152 - 256 - 2
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 77


def _vocabulary_file() -> Path:
    import open_clip

    return Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"


@functools.lru_cache(maxsize=1)
def clip_vocabulary() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """(vocab, merges) exactly as OpenAI's CLIP tokenizer and HF's vocab.json/merges.txt hold them."""
    from open_clip.tokenizer import bytes_to_unicode

    lines = gzip.decompress(_vocabulary_file().read_bytes()).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : MERGE_COUNT + 1]]
    byte_tokens = list(bytes_to_unicode().values())
    tokens = byte_tokens + [t + "</w>" for t in byte_tokens] + ["".join(m) for m in merges] + [BOS, EOS]
    return {token: index for index, token in enumerate(tokens)}, merges  # type: ignore[return-value]


def build_clip_tokenizer(pad_token: str = EOS) -> Any:
    """A transformers CLIPTokenizer; SD 1.x pads with <|endoftext|>, SD 2.x and SDXL's second with "!"."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocabulary()
    return CLIPTokenizer(vocab=dict(vocab), merges=list(merges), pad_token=pad_token, model_max_length=MAX_LENGTH)
