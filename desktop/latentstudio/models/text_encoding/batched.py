"""Text encoding for many short texts (phrase banks, prompt candidates), and CLIP token counts.

open_clip always runs the text tower over the full context (77 positions) however short the
text. Its standard tower is causal and pools at the end-of-text token, so the positions after
the longest text of a batch change nothing: cutting the batch there gives the same vectors
(a parity test holds us to it) for a fraction of the work. Towers of other shapes take the
ordinary path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional, Sequence

import numpy as np

if TYPE_CHECKING:
    from ..clip_loader import ClipModel

CLIP_MAX_TOKENS = 77  # CLIP's context, start and end tokens included
PAD_ID = 0  # open_clip's SimpleTokenizer pads with 0; its end token has the highest id


def context_length(clip: "ClipModel") -> int:
    """Tokens the model reads, start and end included (at most CLIP's 77)."""
    return min(CLIP_MAX_TOKENS, int(getattr(clip.model, "context_length", CLIP_MAX_TOKENS) or CLIP_MAX_TOKENS))


def _simple_tokenizer(clip: "ClipModel") -> bool:
    from open_clip.tokenizer import SimpleTokenizer

    return isinstance(clip.tokenizer, SimpleTokenizer)


def token_counts(clip: "ClipModel", texts: Sequence[str]) -> list[int]:
    """CLIP tokens per text, start and end included, without truncation."""
    if _simple_tokenizer(clip):
        return [len(clip.tokenizer.encode(text)) + 2 for text in texts]
    tokens = clip.tokenizer(list(texts))  # other tokenizers: what survives truncation, a lower bound
    return [int(n) for n in (tokens != PAD_ID).sum(dim=1)]


def fits(clip: "ClipModel", text: str) -> bool:
    return token_counts(clip, [text])[0] <= context_length(clip)


def _trimmable(clip: "ClipModel") -> bool:
    model = clip.model
    return (
        _simple_tokenizer(clip)
        and getattr(model, "text_pool_type", None) == "argmax"
        and all(hasattr(model, name) for name in ("token_embedding", "positional_embedding", "transformer",
                                                  "ln_final", "attn_mask"))
    )


def _encode_trimmed(clip: "ClipModel", tokens) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    model = clip.model
    length = max(2, int((tokens != PAD_ID).sum(dim=1).max()))
    tokens = tokens[:, :length].to(clip.device)
    with torch.inference_mode():
        cast = model.transformer.get_cast_dtype()
        x = model.token_embedding(tokens).to(cast) + model.positional_embedding[:length].to(cast)
        mask = model.attn_mask[:length, :length] if model.attn_mask is not None else None
        x = model.ln_final(model.transformer(x, attn_mask=mask))
        x = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
        projection = model.text_projection
        if projection is not None:
            x = projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection
        return F.normalize(x, dim=-1).float().cpu().numpy()


def encode_texts(
    clip: "ClipModel",
    texts: Sequence[str],
    batch_size: int = 128,
    between_batches: Optional[Callable[[int, int], None]] = None,
) -> np.ndarray:
    """Unit vectors (N, D) for `texts`, batched by length; `between_batches(done, total)` runs
    after each batch (progress, the engine's checkpoint)."""
    texts = list(texts)
    out = np.zeros((len(texts), clip.embed_dim), dtype=np.float32)
    if not texts:
        return out
    trimmed = _trimmable(clip)
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths share a batch
    for start in range(0, len(texts), batch_size):
        chosen = order[start : start + batch_size]
        batch = [texts[i] for i in chosen]
        out[chosen] = _encode_trimmed(clip, clip.tokenizer(batch)) if trimmed else clip.encode_text(batch)
        if between_batches is not None:
            between_batches(min(start + batch_size, len(texts)), len(texts))
    return out
