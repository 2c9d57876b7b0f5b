"""Tiny open_clip models in the hub layout (`open_clip_config.json` + `open_clip_model.safetensors`).

`clip-tiny` has random weights (loading, parity and plumbing tests). `clip-shapes` is the same
architecture trained for about a minute on the CPU on synthetic captioned images — coloured
shapes on varied backgrounds — so tests can assert real text→image retrieval.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 60, 220),
    "yellow": (240, 210, 20),
}
SHAPES = ("circle", "square", "triangle")
TEMPLATES = ("a {c} {s}", "a photo of a {c} {s}", "{c} {s}", "a picture of a {c} {s}")

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

CONFIG = {
    "model_cfg": {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 4},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
    },
    "preprocess_cfg": {"mean": list(OPENAI_MEAN), "std": list(OPENAI_STD)},
}


def shape_image(colour: str, shape: str, rng: random.Random, size: int = 64) -> Image.Image:
    """One coloured shape, at a random place and size, on a random muted background."""
    grey = rng.randint(70, 200)
    background = tuple(max(0, min(255, grey + rng.randint(-25, 25))) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    extent = rng.randint(int(size * 0.4), int(size * 0.75))
    x0 = rng.randint(0, size - extent)
    y0 = rng.randint(0, size - extent)
    box = (x0, y0, x0 + extent, y0 + extent)
    fill = tuple(max(0, min(255, v + rng.randint(-20, 20))) for v in COLOURS[colour])
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon([(x0 + extent // 2, y0), (x0, y0 + extent), (x0 + extent, y0 + extent)], fill=fill)
    noise = np.asarray(image, dtype=np.int16) + np.array(
        [[[rng.randint(-8, 8)] * 3]], dtype=np.int16
    )
    return Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8))


def classes() -> list[tuple[str, str]]:
    return [(c, s) for c in COLOURS for s in SHAPES]


def _write(folder: Path, model) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    (folder / "open_clip_config.json").write_text(json.dumps(CONFIG, indent=2))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))


def _create():
    import open_clip

    return open_clip.CLIP(**CONFIG["model_cfg"])


def write_clip_tiny(folder: Path) -> None:
    import torch

    torch.manual_seed(0)
    _write(folder, _create())


def write_clip_shapes(folder: Path, steps: int = 400, batch: int = 64) -> None:
    """Train on captioned shapes: image↔caption contrastive loss over the 12 class captions."""
    import torch

    threads = torch.get_num_threads()
    # One thread: on a shared, busy CPU, spinning worker threads make tiny ops many times slower.
    torch.set_num_threads(1)
    try:
        _train_shapes(folder, steps, batch)
    finally:
        torch.set_num_threads(threads)


def _train_shapes(folder: Path, steps: int, batch: int) -> None:
    import open_clip
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    rng = random.Random(0)
    model = _create()
    tokenizer = open_clip.SimpleTokenizer(context_length=CONFIG["model_cfg"]["text_cfg"]["context_length"])
    labels = classes()
    size = CONFIG["model_cfg"]["vision_cfg"]["image_size"]
    mean = torch.tensor(OPENAI_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_STD).view(1, 3, 1, 1)

    pool_images, pool_labels = [], []
    for _ in range(2400):
        index = rng.randrange(len(labels))
        image = shape_image(*labels[index], rng).resize((size, size), Image.Resampling.BICUBIC)
        pool_images.append(np.asarray(image))
        pool_labels.append(index)
    pixels = torch.from_numpy(np.stack(pool_images)).permute(0, 3, 1, 2).float().div(255)
    pixels = (pixels - mean) / std
    targets = torch.tensor(pool_labels)

    # Fixed random token embeddings: the 49k-row table dominates the optimiser's cost otherwise.
    model.token_embedding.weight.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=2e-3, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=2e-3, total_steps=steps)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(targets), (batch,))
        captions = [rng.choice(TEMPLATES).format(c=c, s=s) for c, s in labels]
        text = model.encode_text(tokenizer(captions), normalize=True)
        image = model.encode_image(pixels[idx], normalize=True)
        logits = model.logit_scale.exp() * image @ text.T
        y = targets[idx]
        # Image→class-caption cross entropy, and for each caption the images of its class.
        loss = F.cross_entropy(logits, y)
        present = torch.zeros(len(labels), dtype=torch.bool)
        present[y] = True
        soft = (y.unsqueeze(0) == torch.arange(len(labels)).unsqueeze(1)).float()
        soft = soft[present] / soft[present].sum(1, keepdim=True)
        loss = loss + torch.sum(-soft * F.log_softmax(logits.T[present], dim=1), dim=1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    model.eval()
    _write(folder, model)
