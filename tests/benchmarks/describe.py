"""Describe as prompt on the CPU with a ViT-B-32 CLIP (random weights): cold and per picture.

    python tests/benchmarks/describe.py [--pictures N]

Cold: the bundled phrase banks encoded and cached for the model, then the first picture.
Warm: per picture (image encode, bank ranking, greedy prompt build), the banks read from the
cache as a new process would. Baseline in the same run: one full-context (77-token) text
encoding of the banks through open_clip's own encode_text, which our short-text path replaces.
Random weights make the greedy build stop at a random point: the figures say how many phrases
each prompt took (more phrases, more rounds of candidate encodings).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for entry in (ROOT, ROOT / "desktop"):  # this checkout, not an installed copy
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import numpy as np  # noqa: E402

from latentstudio.imagegen import describe as describing  # noqa: E402
from latentstudio.imagegen.phrase_banks import bank_vectors, load_banks  # noqa: E402
from latentstudio.models.clip_loader import load_clip_random  # noqa: E402
from latentstudio.models.registry import InstalledModel  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pictures", type=int, default=8)
    args = parser.parse_args()

    import torch
    from PIL import Image

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; load {os.getloadavg()[0]:.2f}")
    clip = load_clip_random("ViT-B-32")
    cache = Path(tempfile.mkdtemp(prefix="latent-bench-banks-"))
    weights = cache / "weights.safetensors"
    weights.write_bytes(b"stand-in")  # the fingerprint reads file stats only
    installed = InstalledModel("vit-b-32", "clip", "open_clip_checkpoint", cache, weights.name, "bench", 1, "now",
                               architecture="ViT-B-32")
    rng = np.random.default_rng(0)
    pictures = [Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)) for _ in range(args.pictures)]

    def one(image: Image.Image, banks) -> str:
        vector = clip.encode_pixels(clip.spec.to_pixels(image)[None])[0]
        return describing.describe_vector(clip, vector, banks, installed.id).prompt

    started = time.perf_counter()
    banks = bank_vectors(clip, installed, cache / "banks")
    built = time.perf_counter() - started
    one(pictures[0], banks)
    cold = time.perf_counter() - started
    print(f"cold: {len(banks.phrases)} phrases encoded and cached in {built:.2f} s; with the first picture {cold:.2f} s")

    started = time.perf_counter()
    banks = bank_vectors(clip, installed, cache / "banks")
    assert not banks.built
    print(f"cache read: {(time.perf_counter() - started) * 1000:.1f} ms")
    times, lengths = [], []
    for image in pictures:
        started = time.perf_counter()
        prompt = one(image, banks)
        times.append(time.perf_counter() - started)
        lengths.append(len(prompt.split(", ")))
    print(f"warm, per picture: median {statistics.median(times):.3f} s, max {max(times):.3f} s "
          f"(phrases per prompt: {', '.join(map(str, lengths))})")

    # The worst case: every round accepts, so all banks join (7 rounds of SHORTLIST encodings).
    from latentstudio.models.text_encoding.batched import encode_texts

    bank_list = load_banks()
    started = time.perf_counter()
    for rounds in range(2, len(bank_list) + 1):
        encode_texts(clip, [", ".join(rng.choice(b.phrases) for b in bank_list[:rounds])
                            for _ in range(describing.SHORTLIST)])
    print(f"worst case, all {len(bank_list)} banks joining: + {time.perf_counter() - started:.3f} s of candidate encodings")

    phrases = [p for bank in bank_list for p in bank.phrases]
    started = time.perf_counter()
    for start in range(0, len(phrases), 128):
        clip.encode_text(phrases[start : start + 128])
    full = time.perf_counter() - started
    print(f"baseline: the banks through open_clip's full 77-token encode_text: {full:.2f} s "
          f"(ours {built:.2f} s, {full / built:.1f}x faster)")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
