"""Describe as prompt with clip-shapes: colour and shape words, CLIP's token limit, the banks' cache, CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from latentstudio import cli
from latentstudio.context import AppContext
from latentstudio.imagegen.describe import describe_vector, render, submit_describe
from latentstudio.imagegen.phrase_banks import Bank, bank_vectors, load_banks
from latentstudio.library import add_folders, submit_index
from latentstudio.models.clip_loader import load_clip_folder
from latentstudio.models.text_encoding.batched import encode_texts, token_counts
from tests.support import tiny_clip

TIMEOUT = 300


def _words(prompt: str) -> set[str]:
    return set(prompt.replace(",", " ").split())


def _hit_rate(prompts: list[str], labels: list[tuple[str, str]]) -> float:
    """Share of the colour and shape words found in the prompts."""
    return float(np.mean([((c in _words(p)) + (s in _words(p))) / 2 for p, (c, s) in zip(prompts, labels)]))


@pytest.fixture
def shapes(ctx: AppContext, tiny_models: Callable[[str], Path], tmp_path: Path):
    """A small indexed shapes library, and held-back pictures (another seed) to describe."""
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    library, held = tmp_path / "library", tmp_path / "held"
    library.mkdir()
    held.mkdir()
    rng = random.Random(2024)
    for colour, shape in tiny_clip.classes():
        for k in range(2):
            tiny_clip.shape_image(colour, shape, rng, size=96).save(library / f"{colour}-{shape}-{k}.png")
    rng = random.Random(4048)
    for colour, shape in tiny_clip.classes():
        for k in range(3):
            tiny_clip.shape_image(colour, shape, rng, size=96).save(held / f"{colour}-{shape}-{k}.png")
    add_folders(ctx, [library])
    ctx.library.scan()
    assert submit_index(ctx).result(TIMEOUT).encoded == 24
    return ctx, library, held


def _labels(paths: list[Path]) -> list[tuple[str, str]]:
    return [tuple(p.stem.split("-")[:2]) for p in paths]  # type: ignore[misc]


def test_held_back_pictures_are_described_with_their_colour_and_shape(shapes, capsys) -> None:
    ctx, library, held = shapes
    pictures = sorted(held.iterdir())
    descriptions = submit_describe(ctx, pictures).result(TIMEOUT)
    prompts = [d.prompt for d in descriptions]
    labels = _labels(pictures)
    own = _hit_rate(prompts, labels)
    # The same prompts judged against another class's words: what luck alone would give.
    others = [(c, s) for c, s in tiny_clip.classes()]
    shifted = [others[(others.index(label) + 5) % len(others)] for label in labels]
    luck = _hit_rate(prompts, shifted)
    with capsys.disabled():
        print(f"\ncolour/shape word rate, all bundled banks: {own:.2f} (another class's words: {luck:.2f})")
    assert own >= luck + 0.2

    # The colour and shape banks alone (the only words clip-shapes was trained on) do better.
    clip = load_clip_folder(ctx.registry.get("shapes").path)
    banks = bank_vectors(clip, ctx.registry.get("shapes"), ctx.paths.home / "cache" / "phrase-banks",
                         banks=[b for b in load_banks() if b.name in ("colours", "shapes")])
    vectors = clip.encode_pixels(np.stack([clip.spec.to_pixels(d_image(p)) for p in pictures]))
    focused = [describe_vector(clip, v, banks, "shapes").prompt for v in vectors]
    focused_rate = _hit_rate(focused, labels)
    with capsys.disabled():
        print(f"colour/shape word rate, colour and shape banks only: {focused_rate:.2f}")
    assert focused_rate >= 0.45

    for description in descriptions:
        assert description.tokens == token_counts(clip, [description.prompt])[0] <= 16  # clip-shapes' context
        assert description.top and all(a.score >= b.score for a, b in zip(description.top, description.top[1:]))
        assert description.similarity >= max(p.score for p in description.top) - 1e-6  # it only ever rose

    # A library picture is described from its stored vector, the same as from its pixels.
    inside = sorted(library.iterdir())[0]
    stored = submit_describe(ctx, [inside]).result(TIMEOUT)[0]
    fresh = describe_vector(clip, clip.encode_pixels(clip.spec.to_pixels(d_image(inside))[None])[0],
                            bank_vectors(clip, ctx.registry.get("shapes"), ctx.paths.home / "cache" / "phrase-banks"),
                            "shapes")
    assert stored.prompt == fresh.prompt


def d_image(path: Path):
    from latentstudio.library.decode import decode_image

    return decode_image(path).image


def test_prompts_never_exceed_the_context(tiny_models: Callable[[str], Path], tmp_path: Path) -> None:
    """Long phrases in every bank: the greedy build stops at CLIP's limit (16 tokens for the tiny model)."""
    clip = load_clip_folder(tiny_models("clip-tiny"))
    from latentstudio.models.registry import InstalledModel

    installed = InstalledModel("tiny", "clip", "open_clip_hub", tmp_path, "x", "test", 1, "now")
    long_banks = [Bank(name, name, tuple(f"{word} number {k} with several extra words" for k in range(6)))
                  for name, word in (("subjects", "dog"), ("colours", "red"), ("mediums", "oil"),
                                     ("styles", "baroque"), ("lighting", "soft"), ("camera", "bokeh"))]
    banks = bank_vectors(clip, installed, tmp_path / "cache", banks=long_banks)
    rng = np.random.default_rng(0)
    for _ in range(10):
        vector = rng.normal(size=clip.embed_dim).astype(np.float32)
        description = describe_vector(clip, vector / np.linalg.norm(vector), banks, "tiny")
        assert description.tokens <= 16
        assert len(clip.tokenizer.encode(description.prompt)) + 2 == description.tokens


def test_render_reads_as_a_caption() -> None:
    banks = [Bank("subjects", "Subject", ("a dog",)), Bank("colours", "Colour", ("orange", "red")),
             Bank("shapes", "Shape", ("circle",)), Bank("lighting", "Lighting", ("golden hour",))]
    vectors = type("V", (), {"banks": banks, "phrases": ("a dog", "orange", "red", "circle", "golden hour")})()
    assert render(vectors, {0: 0, 1: 1, 3: 4}) == "an orange dog, golden hour"
    assert render(vectors, {1: 2, 2: 3}) == "a red circle"
    assert render(vectors, {0: 0, 1: 2, 2: 3}) == "a red dog, circle"
    assert render(vectors, {1: 2, 3: 4}) == "red, golden hour"


def test_bank_vectors_are_cached_and_rebuilt_when_the_model_changes(
    ctx: AppContext, tiny_models: Callable[[str], Path]
) -> None:
    cache = ctx.paths.home / "cache" / "phrase-banks"
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="clip", link=True)
    installed = ctx.registry.get("clip")
    clip = load_clip_folder(installed.path)
    first = bank_vectors(clip, installed, cache)
    assert first.built and (cache / "clip" / "vectors.npy").is_file() and (cache / "clip" / "manifest.json").is_file()
    assert first.vectors.shape == (sum(len(b.phrases) for b in load_banks()), clip.embed_dim)
    again = bank_vectors(clip, installed, cache)
    assert not again.built and np.array_equal(again.vectors, first.vectors)

    # Another model under the same id: new vectors, from that model.
    ctx.registry.remove("clip")
    ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="clip", link=True)
    replaced = ctx.registry.get("clip")
    other = load_clip_folder(replaced.path)
    rebuilt = bank_vectors(other, replaced, cache)
    assert rebuilt.built and not np.allclose(rebuilt.vectors, first.vectors)
    assert np.allclose(rebuilt.vectors[:5], other.encode_text(list(rebuilt.phrases[:5])), atol=1e-5)
    assert not bank_vectors(other, replaced, cache).built

    # Edited banks and a damaged cache file rebuild too.
    fewer = [Bank(b.name, b.title, b.phrases[:3]) for b in load_banks()]
    assert bank_vectors(other, replaced, cache, banks=fewer).built
    (cache / "clip" / "vectors.npy").write_bytes(b"not numpy")
    assert bank_vectors(other, replaced, cache, banks=fewer).built


def test_short_text_encoding_matches_open_clip(tiny_models: Callable[[str], Path]) -> None:
    clip = load_clip_folder(tiny_models("clip-tiny"))
    texts = ["a", "a red circle", "an oil painting of a lighthouse, soft light", "x" * 3, "a photo of a dog"] * 30
    assert np.allclose(encode_texts(clip, texts, batch_size=16), clip.encode_text(texts), atol=1e-5)
    assert token_counts(clip, ["a red circle"]) == [5]


def test_describe_cli(shapes, capsys) -> None:
    ctx, _, held = shapes
    ctx.close()
    picture = held / "green-square-0.png"
    assert cli.main(["describe", str(picture), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report[0]["path"] == str(picture) and report[0]["prompt"] and report[0]["model"] == "shapes"
    phrases = report[0]["top_phrases"]
    assert phrases and {"bank", "phrase", "score"} <= set(phrases[0])
    assert cli.main(["describe", str(picture)]) == 0
    out = capsys.readouterr().out
    assert f"prompt: {report[0]['prompt']}" in out and "top phrases" in out

    assert cli.main(["describe", str(held / "missing.png")]) == 1
    assert "does not exist" in capsys.readouterr().err
    broken = held / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    assert cli.main(["describe", str(broken)]) == 1
    assert "broken.png" in capsys.readouterr().err


def test_describe_without_clip_says_what_to_do(tmp_path: Path, capsys) -> None:
    picture = tmp_path / "p.png"
    tiny_clip.shape_image("red", "circle", random.Random(1)).save(picture)
    assert cli.main(["describe", str(picture)]) == 1
    assert "models import" in capsys.readouterr().err
