"""`llm-tiny`: a tiny Qwen2 causal LM in the transformers folder format, trained in seconds.

The byte-level BPE tokenizer is trained here with the `tokenizers` library and carries a
ChatML chat template. The model is then trained briefly to answer any chat with the same
short reply holding one fenced Python block, so tests can assert on real output (code
extraction, syntax status) while generation still runs the real transformers code path.
"""

from __future__ import annotations

import random
from pathlib import Path

REPLY = "Here is the function:\n```python\ndef add(a, b):\n    return a + b\n```\nIt adds two numbers."
REPLY_CODE = "def add(a, b):\n    return a + b\n"

# As long as the app's own system prompt: the reply must not depend on where it starts.
CHECK_SYSTEM_PROMPT = (
    "You are an expert Python programmer. Answer with complete, correct Python code in a single "
    "fenced code block marked ```python, followed by at most a few sentences of explanation. "
    "Do not use any other programming language."
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

WORDS = (
    "write a function that returns the sum of two numbers in python code please sort list "
    "reverse string parse json file read lines count words class method loop index value "
    "you are helpful assistant answer with one fenced block language only short explain "
    "def return import for while if else print range len dict key error test"
).split()

CORPUS = [
    REPLY,
    "def add(a, b):\n    return a + b\n",
    "for i in range(10):\n    print(i)\n",
    "import json\nwith open(path) as fh:\n    data = json.load(fh)\n",
    "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n",
    "function add(a, b) { return a + b; }\n",
    "fn main() { println!(\"hello\"); }\n",
    " ".join(WORDS),
]


def _train_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS * 4, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=512,
    )


def _random_text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def _examples(tokenizer, count: int, seed: int) -> list[tuple[list[int], int]]:
    """(token ids, index where the reply starts) for chats with random prompts and the fixed reply."""
    rng = random.Random(seed)
    reply_ids = tokenizer(REPLY, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    examples = []
    for _ in range(count):
        messages = [{"role": "user", "content": _random_text(rng, 1, 20)}]
        if rng.random() < 0.8:
            messages.insert(0, {"role": "system", "content": _random_text(rng, 10, 60)})
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        examples.append((prompt_ids + reply_ids, len(prompt_ids)))
    return examples


def _train(model, tokenizer, steps: int = 200) -> None:
    import torch

    examples = _examples(tokenizer, 96, seed=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = random.Random(2)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is several times faster than contended ones
    try:
        for _ in range(steps):
            _step(model, tokenizer, optimizer, rng.sample(examples, 8))
    finally:
        torch.set_num_threads(threads)
    model.eval()


def _step(model, tokenizer, optimizer, batch: list[tuple[list[int], int]]) -> None:
    """One optimiser step on a padded batch; the loss covers the reply tokens only."""
    import torch

    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), tokenizer.pad_token_id)
    labels = torch.full((len(batch), width), -100)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (ids, start) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, start : len(ids)] = torch.tensor(ids[start:])
        mask[row, : len(ids)] = 1
    loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def _check(model, tokenizer) -> None:
    """The saved model must give the reply for a prompt it never saw (greedy)."""
    import torch

    messages = [
        {"role": "system", "content": CHECK_SYSTEM_PROMPT},
        {"role": "user", "content": "Write a function that adds two numbers."},
    ]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=64, do_sample=False)
    text = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    if text != REPLY:
        raise RuntimeError(f"tiny LLM did not learn its reply; it says {text!r}")


def tiny_qwen2_config(tokenizer, **overrides):
    from transformers import Qwen2Config

    settings = dict(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    settings.update(overrides)
    return Qwen2Config(**settings)


def write_tiny_llm(folder: Path) -> None:
    import torch
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(0)
    tokenizer = _train_tokenizer()
    model = Qwen2ForCausalLM(tiny_qwen2_config(tokenizer))
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    _train(model, tokenizer)
    _check(model, tokenizer)
    folder.mkdir(parents=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
