"""Generated images join the library, tagged with their prompt, and come back from search."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from latentstudio.context import AppContext
from latentstudio.imagegen import ImageRequest, submit_images
from latentstudio.library import search_library

TIMEOUT = 300


def test_a_generated_image_appears_in_search_results(ctx: AppContext, tiny_models: Callable[[str], Path]) -> None:
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="clip", link=True)
    request = ImageRequest("a yellow triangle on grass", seed=4, steps=2)
    result = submit_images(ctx, request)[0].result(TIMEOUT)
    assert result.library_job is not None  # a CLIP model is installed: the image is embedded
    result.library_job.result(TIMEOUT)

    by_text = search_library(ctx, text="a yellow triangle", min_score=-1.0, limit=10)
    assert [hit.path for hit in by_text] == [result.path]
    assert by_text[0].generated and by_text[0].prompt == "a yellow triangle on grass"
    by_image = search_library(ctx, image=result.path, limit=5)
    assert by_image[0].path == result.path and by_image[0].score > 0.99


def test_without_clip_the_image_is_saved_and_no_embedding_is_queued(
    ctx: AppContext, tiny_models: Callable[[str], Path]
) -> None:
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    result = submit_images(ctx, ImageRequest("a dog", seed=1, steps=1))[0].result(TIMEOUT)
    assert result.path.is_file() and result.library_job is None
