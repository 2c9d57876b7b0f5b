"""A1111 prompt syntax without torch: LoRA tags, attention weights, escapes, BREAK, 75-token chunks."""

from __future__ import annotations

import pytest

from latentstudio.imagegen.prompt_syntax import (
    BREAK,
    EmbeddingRun,
    LoraTag,
    PromptSyntaxError,
    count_chunks,
    extract_loras,
    parse_attention,
    split_chunks,
)


def weights(text: str) -> list:
    return [None if p is BREAK else (p[0], round(p[1], 4)) for p in parse_attention(text)]


def test_attention_weights_as_a1111_reads_them() -> None:
    assert weights("a cat") == [("a cat", 1.0)]
    assert weights("a (cat) dog") == [("a ", 1.0), ("cat", 1.1), (" dog", 1.0)]
    assert weights("((cat))") == [("cat", 1.21)]
    assert weights("[cat]") == [("cat", round(1 / 1.1, 4))]
    assert weights("(cat:1.3), dog") == [("cat", 1.3), (", dog", 1.0)]
    assert weights("(a (cat:1.5):0.5)") == [("a ", 0.5), ("cat", 0.75)]
    assert weights("(cat: 0.8 )") == [("cat", 0.8)]
    assert weights(r"\(cat\) \[x\]") == [("(cat) [x]", 1.0)]  # escaped brackets are text
    assert weights("(unclosed cat") == [("unclosed cat", 1.1)]
    assert weights("a: b") == [("a: b", 1.0)]  # a colon outside a group is text
    assert weights("") == [("", 1.0)]


def test_break_splits_and_is_a_whole_word() -> None:
    assert weights("a cat BREAK a dog") == [("a cat", 1.0), None, ("a dog", 1.0)]
    assert weights("BREAKFAST") == [("BREAKFAST", 1.0)]
    assert weights("(red BREAK blue:1.2)") == [("red", 1.2), None, ("blue", 1.2)]


def test_lora_tags_are_taken_out_with_their_weights() -> None:
    text, tags = extract_loras("a cat <lora:Pixel Art:0.8>, <lora:detail:0.5:1.2> <LORA:plain> in a hat")
    assert text == "a cat, in a hat"
    assert tags == [LoraTag("Pixel Art", 0.8, 0.8), LoraTag("detail", 0.5, 1.2), LoraTag("plain", 1.0, 1.0)]
    assert extract_loras("<lora:x:te=0.3:unet=0.7>")[1] == [LoraTag("x", 0.3, 0.7)]
    assert extract_loras("<lora:x:0.2> <lora:x:0.9>")[1] == [LoraTag("x", 0.9, 0.9)]  # the last one counts
    assert LoraTag("x", 0.5, 0.5).tag() == "<lora:x:0.5>" and LoraTag("x", 0.5, 1).tag() == "<lora:x:0.5:1>"
    with pytest.raises(PromptSyntaxError, match="'heavy' is not a weight"):
        extract_loras("<lora:x:heavy>")
    with pytest.raises(PromptSyntaxError, match="no LoRA name"):
        extract_loras("<lora::1>")


def test_chunks_of_75_with_comma_backtrack_break_and_whole_embeddings() -> None:
    comma = 11
    tokens = [1] * 70 + [comma] + [2] * 10  # a comma 71st: the chunk ends after it
    chunks = split_chunks([(tokens, 1.0)], comma_id=comma)
    assert [c.length for c in chunks] == [71, 10]
    no_comma = split_chunks([([1] * 160, 1.0)])
    assert [c.length for c in no_comma] == [75, 75, 10]
    broken = split_chunks([([1] * 3, 1.0), None, ([2] * 3, 1.5)])
    assert [(c.tokens, c.weights) for c in broken] == [([1, 1, 1], [1.0] * 3), ([2, 2, 2], [1.5] * 3)]
    embedded = split_chunks([([1] * 73 + [EmbeddingRun("emb", 4)], 1.0)])
    assert [c.length for c in embedded] == [73, 4]  # never split across chunks
    assert [c.length for c in split_chunks([])] == [0]


def test_counter_counts_tokens_and_chunks_without_torch() -> None:
    def tokenize(text: str) -> list[int]:
        return [len(word) for word in text.replace(",", " , ").split()]

    assert count_chunks("a cat <lora:x:1> (hat:1.2)", tokenize) == (3, 1)
    tokens, chunks = count_chunks(" ".join(["word"] * 100), tokenize)
    assert (tokens, chunks) == (100, 2)
    assert count_chunks("a BREAK b", tokenize) == (2, 2)
