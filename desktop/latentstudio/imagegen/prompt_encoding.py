"""Prompts to text-encoder embeddings as AUTOMATIC1111 makes them: weighted pieces, 75-token
chunks encoded one by one and concatenated, textual-inversion vectors put in place of their name.

Weighting as A1111: each token's hidden state is multiplied by its weight, then the chunk is
scaled back to its original mean, so emphasis shifts attention without changing the overall
strength. SD 1.x/2.x use the last hidden state; SDXL the penultimate of both encoders side by
side and the pooled vector of its second encoder's first chunk. Embedding vectors are written
over placeholder positions by a hook on the token-embedding layer while the prompt is encoded,
so nothing is added to the tokenizer or model and nothing needs unloading afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from .prompt_syntax import BREAK, CHUNK_TOKENS, Chunk, EmbeddingRun, Token, parse_attention, split_chunks

MEAN_EPSILON = 1e-6


@dataclass(frozen=True)
class TextualInversion:
    """A loaded embedding: its word and its vectors per encoder (`clip_l`, and `clip_g` for SDXL)."""

    name: str
    vectors: dict[str, Any]  # encoder key -> tensor [n, width]

    @property
    def count(self) -> int:
        return int(next(iter(self.vectors.values())).shape[0])


def _encoder_key(index: int) -> str:
    return "clip_l" if index == 0 else "clip_g"


def _name_pattern(names: Sequence[str]) -> Optional["re.Pattern[str]"]:
    if not names:
        return None
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])({alternatives})(?![\w-])", re.IGNORECASE)


def tokenize_pieces(
    text: str, tokenizer: Any, embeddings: dict[str, TextualInversion]
) -> list[Optional[tuple[list[Token], float]]]:
    """Attention pieces → (token ids and embedding runs, weight), BREAK kept as None."""
    by_name = {name.lower(): emb for name, emb in embeddings.items()}
    pattern = _name_pattern(list(embeddings))
    out: list[Optional[tuple[list[Token], float]]] = []
    for piece in parse_attention(text):
        if piece is BREAK:
            out.append(None)
            continue
        part, weight = piece
        tokens: list[Token] = []
        segments = pattern.split(part) if pattern else [part]
        for index, segment in enumerate(segments):
            if index % 2:  # a captured embedding name
                emb = by_name[segment.lower()]
                tokens.append(EmbeddingRun(emb.name, emb.count))
            elif segment.strip():
                tokens.extend(tokenizer(segment, add_special_tokens=False, truncation=False, verbose=False).input_ids)
        out.append((tokens, weight))
    return out


def chunk_prompt(text: str, tokenizer: Any, embeddings: dict[str, TextualInversion]) -> list[Chunk]:
    comma = tokenizer(",", add_special_tokens=False).input_ids
    return split_chunks(tokenize_pieces(text, tokenizer, embeddings), comma[0] if len(comma) == 1 else None)


def _chunk_ids(chunk: Chunk, tokenizer: Any, placeholder: int) -> tuple[list[int], list[float], list[tuple[int, str]]]:
    """77 ids (start, the chunk, end, then padding: as A1111 and diffusers lay them out, which
    matters for SDXL's second encoder, whose padding is not the end token), their weights, and
    where each embedding goes."""
    ids, weights, runs = [tokenizer.bos_token_id], [1.0], []
    for token, weight in zip(chunk.tokens, chunk.weights):
        if isinstance(token, EmbeddingRun):
            runs.append((len(ids), token.name))
            ids += [placeholder] * token.vectors
            weights += [weight] * token.vectors
        else:
            ids.append(int(token))
            weights.append(weight)
    pad = CHUNK_TOKENS + 1 - len(ids)
    ids += [tokenizer.eos_token_id] + [tokenizer.pad_token_id] * pad
    weights += [1.0] * (pad + 1)
    return ids, weights, runs


def encode_chunks(
    chunks: list[Chunk],
    tokenizer: Any,
    text_encoder: Any,
    embeddings: dict[str, TextualInversion],
    encoder_key: str,
    penultimate: bool,
) -> tuple[Any, Any]:
    """(hidden states [1, 77·chunks, width] weighted as A1111 does, the first chunk's output[0])."""
    import torch

    placeholder = 0 if tokenizer.eos_token_id != 0 else 1  # any id but the end token (pooling finds it)
    rows = [_chunk_ids(chunk, tokenizer, placeholder) for chunk in chunks]
    device = text_encoder.device
    ids = torch.tensor([r[0] for r in rows], dtype=torch.long, device=device)
    weights = torch.tensor([r[1] for r in rows], dtype=torch.float32, device=device)
    fixes = [(row, start, embeddings[name].vectors[encoder_key]) for row, r in enumerate(rows) for start, name in r[2]]

    def put_vectors(_module: Any, _inputs: Any, output: Any) -> Any:
        output = output.clone()
        for row, start, vectors in fixes:
            output[row, start : start + vectors.shape[0]] = vectors.to(output.device, output.dtype)
        return output

    hook = text_encoder.get_input_embeddings().register_forward_hook(put_vectors) if fixes else None
    try:
        out = text_encoder(ids, output_hidden_states=penultimate)
    finally:
        if hook is not None:
            hook.remove()
    hidden = out.hidden_states[-2] if penultimate else out[0]
    if not bool(torch.all(weights == 1)):
        original_mean = hidden.float().mean(dim=(1, 2), keepdim=True)
        weighted = hidden.float() * weights.unsqueeze(-1)
        new_mean = weighted.mean(dim=(1, 2), keepdim=True)
        # A mean of (almost) zero cannot be restored by scaling: leave such a chunk as weighted.
        ratio = torch.where(new_mean.abs() > MEAN_EPSILON, original_mean / new_mean, torch.ones_like(new_mean))
        hidden = (weighted * ratio).to(hidden.dtype)
    joined = hidden.reshape(1, -1, hidden.shape[-1])
    return joined, out[0][:1]


def _pad_chunks(chunks: list[Chunk], count: int) -> list[Chunk]:
    return chunks + [Chunk([], []) for _ in range(count - len(chunks))]


def encoders_of(pipe: Any) -> list[tuple[Any, Any]]:
    pairs = [(pipe.tokenizer, pipe.text_encoder)]
    if getattr(pipe, "text_encoder_2", None) is not None:
        pairs.append((pipe.tokenizer_2, pipe.text_encoder_2))
    return pairs


def check_embeddings(pipe: Any, embeddings: dict[str, TextualInversion]) -> None:
    """Refuse, in words, an embedding made for another model family than `pipe`'s."""
    for emb in embeddings.values():
        for index, (_, encoder) in enumerate(encoders_of(pipe)):
            key = _encoder_key(index)
            width = int(encoder.get_input_embeddings().weight.shape[1])
            vectors = emb.vectors.get(key)
            if vectors is None:
                raise ValueError(f"embedding {emb.name} has no {key} vectors: it is not made for this model (SDXL needs clip_l and clip_g)")
            if int(vectors.shape[-1]) != width:
                raise ValueError(
                    f"embedding {emb.name} has {int(vectors.shape[-1])}-wide vectors but this model's text encoder "
                    f"takes {width}: it was made for another model family"
                )


def encode_prompts(
    pipe: Any, prompt: str, negative_prompt: str, embeddings: Optional[dict[str, TextualInversion]] = None
) -> dict[str, Any]:
    """Keyword arguments for a diffusers SD/SDXL pipeline call in place of `prompt`/`negative_prompt`."""
    import torch

    embeddings = embeddings or {}
    check_embeddings(pipe, embeddings)
    pairs = encoders_of(pipe)
    sdxl = len(pairs) == 2
    tokenizer = pairs[0][0]
    positive = chunk_prompt(prompt, tokenizer, embeddings)
    negative = chunk_prompt(negative_prompt, tokenizer, embeddings)
    count = max(len(positive), len(negative))
    positive, negative = _pad_chunks(positive, count), _pad_chunks(negative, count)
    with torch.no_grad():
        outputs = []
        for chunks in (positive, negative):
            hidden, pooled = [], None
            for index, (tok, encoder) in enumerate(pairs):
                states, first = encode_chunks(chunks, tok, encoder, embeddings, _encoder_key(index), penultimate=sdxl)
                hidden.append(states)
                pooled = first
            outputs.append((torch.cat(hidden, dim=-1), pooled))
    (embeds, pooled), (negative_embeds, negative_pooled) = outputs
    if sdxl and not negative_prompt.strip() and getattr(pipe.config, "force_zeros_for_empty_prompt", False):
        # As diffusers' SDXL pipeline does for an empty negative prompt.
        negative_embeds, negative_pooled = torch.zeros_like(negative_embeds), torch.zeros_like(negative_pooled)
    kwargs = {"prompt_embeds": embeds, "negative_prompt_embeds": negative_embeds}
    if sdxl:
        kwargs.update(pooled_prompt_embeds=pooled, negative_pooled_prompt_embeds=negative_pooled)
    return kwargs
