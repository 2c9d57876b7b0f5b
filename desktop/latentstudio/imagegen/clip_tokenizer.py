"""A CLIP tokenizer built offline from the BPE vocabulary that open_clip ships in its package.

Single-file checkpoints carry no tokenizer; every SD text encoder uses the same CLIP BPE
vocabulary, so building it here keeps loading free of any hub call and of megabytes of
committed vocabulary files.
"""

from __future__ import annotations

import functools
from typing import Any

from ..models import clip_bpe

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 77


@functools.lru_cache(maxsize=1)
def clip_vocabulary() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """(vocab, merges) exactly as OpenAI's CLIP tokenizer and HF's vocab.json/merges.txt hold them."""
    tokens = clip_bpe.base_tokens() + [BOS, EOS]
    pairs = [tuple(merge.split(" ")) for merge in clip_bpe.merges()]
    return {token: index for index, token in enumerate(tokens)}, pairs  # type: ignore[return-value]


def build_clip_tokenizer(pad_token: str = EOS) -> Any:
    """A transformers CLIPTokenizer; SD 1.x pads with <|endoftext|>, SD 2.x and SDXL's second with "!"."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocabulary()
    return CLIPTokenizer(vocab=dict(vocab), merges=list(merges), pad_token=pad_token, model_max_length=MAX_LENGTH)
