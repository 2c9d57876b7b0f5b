"""A tiny sentence-transformers folder (BERT encoder, mean pooling, normalised) in the real format.

Its weights are random (seeded): tests assert on plumbing and on what does not need meaning (the
same text gives the same vector, a dimension, batches), never on semantic quality — that is what
the benchmark with the real all-MiniLM-L6-v2 measures.
"""

from __future__ import annotations

from pathlib import Path

DIMENSION = 32
CORPUS = [
    "def parse_config(path): return json.loads(path.read_text())",
    "class HistoryStore: def add(self, entry): ...",
    "function render(view) { return view.html; }",
    "fn main() { let x = 1; println!(\"{}\", x); }",
    "import os sys json re pathlib typing dataclasses sqlite3",
    "read write open close file folder path name index search query vector embedding chunk",
]


SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocabulary() -> dict[str, int]:
    """The corpus's words, its characters and their "##" continuations, in sorted order. Written
    out rather than trained: the WordPiece trainer breaks ties in hash order, so every build gave
    other token ids (and other vectors)."""
    from tokenizers import normalizers, pre_tokenizers

    normalizer, splitter = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words = {word for text in CORPUS for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(text))}
    characters = sorted({c for word in words for c in word})
    tokens = SPECIAL + characters + [f"##{c}" for c in characters] + sorted(words - set(characters))
    return {token: i for i, token in enumerate(tokens)}


def _tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(_vocabulary(), unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return BertTokenizerFast(tokenizer_object=tokenizer, model_max_length=128)


def write_tiny_text_embedding(folder: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    tokenizer = _tokenizer()
    encoder_dir = folder.parent / f".{folder.name}-encoder"
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=DIMENSION, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(encoder_dir)
    tokenizer.save_pretrained(encoder_dir)
    encoder = models.Transformer(str(encoder_dir), max_seq_length=128)
    pooling = models.Pooling(DIMENSION, pooling_mode="mean")
    SentenceTransformer(modules=[encoder, pooling, models.Normalize()], device="cpu").save(str(folder))
    import shutil

    shutil.rmtree(encoder_dir)


def write_tiny_modernbert_embedding(folder: Path) -> None:
    """The layout of the ModernBERT embedders (granite-embedding-*-r2, gte-modernbert-base): a
    ModernBERT encoder that transformers ships (no code in the folder) and CLS pooling."""
    import shutil

    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import ModernBertConfig, ModernBertModel

    torch.manual_seed(0)
    tokenizer = _tokenizer()
    encoder_dir = folder.parent / f".{folder.name}-encoder"
    config = ModernBertConfig(
        vocab_size=len(tokenizer), hidden_size=DIMENSION, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
        cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id,
    )
    ModernBertModel(config).save_pretrained(encoder_dir)
    tokenizer.save_pretrained(encoder_dir)
    encoder = models.Transformer(str(encoder_dir), max_seq_length=128)
    pooling = models.Pooling(DIMENSION, pooling_mode="cls")
    SentenceTransformer(modules=[encoder, pooling, models.Normalize()], device="cpu").save(str(folder))
    shutil.rmtree(encoder_dir)
