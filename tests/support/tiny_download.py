"""A small causal language model in the transformers folder format, to serve from the fake hub.

Random weights (nothing here is trained): download tests only need real files that
transformers can load, with a weights file large enough to be cut midway.
"""

from __future__ import annotations

from pathlib import Path

VOCAB = ["<|endoftext|>", "<unk>"] + [f"w{i}" for i in range(254)]


def write_tiny_causal_lm(folder: Path) -> None:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    folder.mkdir(parents=True)
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(VOCAB),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=False,
        eos_token_id=0,
        bos_token_id=0,
    )
    Qwen2ForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(VOCAB)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>", unk_token="<unk>")
    fast.save_pretrained(folder)
