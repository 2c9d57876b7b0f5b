"""The torch-free CLIP tokenizer gives open_clip's token ids, and loads without torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from latentstudio.models.clip_bpe import ClipBpeTokenizer

PROMPTS = [
    "a red circle",
    "",
    "   A   Photo of THE large   dog!!  ",
    "don't stop: it's 12:45 — we'll see",
    "café naïve résumé Ångström",
    "東京の夜景 and 北京",
    "emoji 🐶🐱 party 🎉",
    "&amp; html &lt;tags&gt; &quot;quoted&quot;",
    "mojibake: Ã©tÃ© cafÃ©",
    "<start_of_text> specials <end_of_text> inside",
    "tabs\tand\nnewlines\r\nhere",
    "x" * 300,
    " ".join(["a very long prompt about a beach at sunset with many people"] * 12),
    "numbers 3.14159 and 1,000,000 and v2.0",
    "Straße ﬁne ligatures ½ ⅔",
    "Привет мир, γειά σου κόσμε",
    # ASCII, tokenized without ftfy and the regex module: every kind of ASCII piece
    "it's a `backtick` ~tilde~ {braces} [brackets] |pipe| <b>bold</b> 'single' \"double\"",
    "under_score and hyphen-ated CAPS'LL 'D I'M THEY'VE YOU'RE",
    "100% of $5 @home #tag ^caret *star* +plus =eq /slash\\back ;semi? 9am 2024",
]


@pytest.mark.parametrize("context_length", [77, 16])
def test_token_ids_match_open_clip(context_length: int) -> None:
    from open_clip.tokenizer import SimpleTokenizer

    theirs = SimpleTokenizer(context_length=context_length)(PROMPTS).numpy()
    ours = ClipBpeTokenizer(context_length)(PROMPTS)
    assert ours.dtype == np.int64 and ours.shape == (len(PROMPTS), context_length)
    for prompt, a, b in zip(PROMPTS, ours, theirs):
        assert a.tolist() == b.tolist(), prompt
    # Truncated rows still end with the end token, which the text tower pools at.
    assert ours[PROMPTS.index("x" * 300), -1] == ClipBpeTokenizer(context_length).end_id


def test_single_string_and_word_cache() -> None:
    tokenizer = ClipBpeTokenizer()
    first = tokenizer("a red circle")
    assert first.shape == (1, 77)
    assert np.array_equal(tokenizer(["a red circle"]), first)  # served from the per-word cache


def test_tokenizing_imports_neither_torch_nor_for_ascii_ftfy_and_regex() -> None:
    """open_clip's own tokenizer imports torch; an ASCII query needs no Unicode clean-up either."""
    code = (
        "import sys\n"
        "from latentstudio.models.clip_bpe import ClipBpeTokenizer\n"
        "ClipBpeTokenizer()(['a red circle', 'a red circle at 9pm, it\\'s raining'])\n"
        "print(sorted(m for m in ('torch', 'open_clip', 'ftfy', 'regex') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_merges_kept_as_plain_text_beside_the_export(tmp_path) -> None:
    """A cold query reads the merges from a plain copy; a copy cut short, or made from another
    vocabulary file, is made again instead of being believed."""
    from latentstudio.models import clip_bpe

    expected = ClipBpeTokenizer()(PROMPTS)
    assert np.array_equal(ClipBpeTokenizer(77, tmp_path)(PROMPTS), expected)
    cache = tmp_path / clip_bpe.MERGES_CACHE
    lines = cache.read_text(encoding="utf-8").split("\n")
    assert lines[0].startswith(clip_bpe.VOCABULARY_FILE) and len(lines) == clip_bpe.MERGE_COUNT + 1

    for damaged in ("\n".join(lines[:1000]), "\n".join(["another-vocabulary 1 2 3", *lines[1:]])):
        cache.write_text(damaged, encoding="utf-8")
        clip_bpe.merges.cache_clear()
        assert np.array_equal(ClipBpeTokenizer(77, tmp_path)(PROMPTS), expected)
        assert cache.read_text(encoding="utf-8").split("\n") == lines  # made again
