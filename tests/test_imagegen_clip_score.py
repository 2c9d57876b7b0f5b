"""CLIP score on generated images: real semantics with clip-shapes, stored in the PNG, best of N."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Callable

import pytest

from latentstudio.cli import main
from latentstudio.context import AppContext
from latentstudio.engine import Priority
from latentstudio.imagegen import ImageRequest, read_metadata, submit_images
from latentstudio.imagegen.clip_score import ClipScore, clip_score, ranked, score_from_json
from latentstudio.imagegen.metadata import parse_ours
from tests.support import tiny_clip

TIMEOUT = 300


@pytest.fixture
def shapes_ctx(ctx: AppContext, tiny_models: Callable[[str], Path]) -> AppContext:
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    return ctx


def _score(ctx: AppContext, image, prompt: str) -> ClipScore:
    installed = ctx.registry.resolve("clip")
    return ctx.engine.submit(lambda job: clip_score(job, installed, image, prompt),
                             priority=Priority.FOREGROUND).result(TIMEOUT)


def test_a_red_circle_scores_higher_against_its_own_words(shapes_ctx: AppContext) -> None:
    rng = random.Random(77)  # pictures the model never saw
    wins = []
    for _ in range(6):
        image = tiny_clip.shape_image("red", "circle", rng, size=96)
        right, wrong = _score(shapes_ctx, image, "a red circle"), _score(shapes_ctx, image, "a blue square")
        assert right.model_id == "shapes" and -1 <= wrong.value <= 1
        wins.append(right.value > wrong.value)
    assert all(wins)


def test_generated_images_carry_their_score(shapes_ctx: AppContext, tiny_models: Callable[[str], Path]) -> None:
    shapes_ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion",
                                    model_id="tiny", link=True)
    result = submit_images(shapes_ctx, ImageRequest("a green triangle", seed=3, steps=2))[0].result(TIMEOUT)
    assert result.clip_score is not None and result.clip_score.model_id == "shapes"
    assert result.score_seconds > 0
    stored = read_metadata(result.path)
    assert stored is not None and stored.clip_score is not None
    assert stored.clip_score.value == pytest.approx(result.clip_score.value, abs=1e-4)
    # The stored number is the image file's own score, recomputed from the written PNG.
    from PIL import Image

    with Image.open(result.path) as saved:
        again = _score(shapes_ctx, saved.convert("RGB"), "a green triangle")
    assert again.value == pytest.approx(result.clip_score.value, abs=1e-4)
    assert result.to_json()["clip_score"] == pytest.approx(result.clip_score.value, abs=1e-4)
    if result.library_job is not None:
        result.library_job.result(TIMEOUT)


def test_without_clip_there_is_no_score(ctx: AppContext, tiny_models: Callable[[str], Path]) -> None:
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    result = submit_images(ctx, ImageRequest("a dog", seed=1, steps=1))[0].result(TIMEOUT)
    assert result.clip_score is None and result.to_json()["clip_score"] is None
    meta = read_metadata(result.path)
    assert meta is not None and meta.clip_score is None


@pytest.mark.slow
def test_best_of_n_lists_candidates_in_score_order(shapes_ctx: AppContext, tiny_models: Callable[[str], Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    shapes_ctx.close()  # the CLI opens its own context on the same data home
    assert main(["models", "import", str(tiny_models("diffusion-tiny") / "diffusers"), "--id", "tiny", "--link"]) == 0
    capsys.readouterr()
    assert main(["generate-image", "a yellow square", "--steps", "2", "--seed", "11", "--best-of", "4",
                 "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["ranked"] is True and len(report["images"]) == 4
    assert sorted(report["seeds"]) == [11, 12, 13, 14]
    scores = [image["clip_score"] for image in report["images"]]
    assert scores == sorted(scores, reverse=True)
    for image in report["images"]:  # each file's stored score is the one it was ranked by
        stored = read_metadata(Path(image["path"]))
        assert stored is not None and stored.clip_score is not None
        assert stored.clip_score.value == pytest.approx(image["clip_score"], abs=1e-4)
    assert "guide, not a judge" in captured.err

    assert main(["generate-image", "a yellow square", "--steps", "1", "--best-of", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    plain = [float(line.split("\t")[1]) for line in lines]
    assert len(lines) == 2 and plain == sorted(plain, reverse=True)


def test_best_of_needs_clip_and_two_candidates(tiny_models: Callable[[str], Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "import", str(tiny_models("diffusion-tiny") / "diffusers"), "--id", "tiny", "--link"]) == 0
    capsys.readouterr()
    assert main(["generate-image", "dog", "--best-of", "3"]) == 1
    assert "install a CLIP model" in capsys.readouterr().err
    assert main(["generate-image", "dog", "--best-of", "1"]) == 1
    assert "at least 2" in capsys.readouterr().err


def test_scores_read_from_files_are_checked() -> None:
    assert score_from_json({"value": 0.3, "model": "m"}) == ClipScore(0.3, "m")
    for bad in (None, 0.3, {"value": 2.0, "model": "m"}, {"value": float("nan"), "model": "m"},
                {"value": True, "model": "m"}, {"value": 0.3, "model": ""}, {"value": "0.3", "model": "m"}):
        assert score_from_json(bad) is None
    meta = parse_ours(json.dumps({"prompt": "x", "clip_score": {"value": -0.5, "model": "c"}}))
    assert meta is not None and meta.clip_score == ClipScore(-0.5, "c")

    class Item:
        def __init__(self, score):
            self.clip_score = None if score is None else ClipScore(score, "m")

    items = [Item(0.1), Item(None), Item(0.3), Item(0.2)]
    assert [i.clip_score.value if i.clip_score else None for i in ranked(items)] == [0.3, 0.2, 0.1, None]
