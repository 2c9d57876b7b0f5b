"""CLIP scores in the library database: their migration (format 3), recording, best-scored prompts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable

import pytest

from latentstudio.context import AppContext
from latentstudio.imagegen import ImageRequest, submit_images
from latentstudio.library.store import migrations
from latentstudio.library import store as store_module
from latentstudio.library.store import LibraryStore, schema_version
from tests.test_library_migrations import write_0_1_0_library

TIMEOUT = 300


def test_a_0_1_0_library_gains_the_scores_table_and_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite3"
    write_0_1_0_library(path)
    library = LibraryStore(path)
    try:
        assert schema_version(library.connection()) == len(migrations.MIGRATIONS)
        assert len(library.images_by_ids([1, 2, 3])) == 3 and library.status()["vectors"] == {"clip": 2}
        assert library.clip_scores(["h1", "h2"]) == {}
        with library.transaction() as db:
            library.record_clip_score(db, "h1", "clip", 0.25)
        assert library.clip_scores(["h1", "h2"]) == {"h1": (0.25, "clip")}
    finally:
        library.close()


def test_a_library_from_before_the_scores_opens_with_nothing_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "library.sqlite3"
    write_0_1_0_library(path)
    before = migrations.MIGRATIONS.index(migrations._clip_scores_table)
    with monkeypatch.context() as patch:  # the migrations up to the one that adds the scores
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:before])
        LibraryStore(path).close()
    with sqlite3.connect(path) as db:
        assert schema_version(db) == before
        assert "clip_scores" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    library = LibraryStore(path)
    try:
        assert schema_version(library.connection()) == len(migrations.MIGRATIONS)
        rows = library.images_by_ids([1, 2, 3])
        assert rows[3].prompt == "a red circle" and rows[3].generated and library.status()["vectors"] == {"clip": 2}
    finally:
        library.close()
    assert store_module.backup_path(path, before).is_file()


def test_generated_images_record_their_score_and_the_best_prompts_come_first(
    ctx: AppContext, tiny_models: Callable[[str], Path]
) -> None:
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    results = []
    for prompt in ("a red circle", "a blue square", "a red circle"):
        result = submit_images(ctx, ImageRequest(prompt, seed=len(results), steps=1))[0].result(TIMEOUT)
        results.append(result)
        if result.library_job is not None:
            result.library_job.result(TIMEOUT)
    store = ctx.library.store
    hashes = {r.path: store.image_by_path(str(r.path)).hash for r in results}
    scores = store.clip_scores(hashes.values())
    for result in results:
        assert scores[hashes[result.path]] == (pytest.approx(result.clip_score.value), "shapes")
    best = store.best_scored_prompts("shapes")
    prompts = ["a red circle", "a blue square", "a red circle"]
    expected: dict[str, float] = {}
    for prompt, result in zip(prompts, results):
        expected[prompt] = max(expected.get(prompt, -1.0), result.clip_score.value)
    assert [p for p, _ in best] == sorted(expected, key=lambda p: -expected[p])
    assert [s for _, s in best] == pytest.approx(sorted(expected.values(), reverse=True))
    assert store.best_scored_prompts("another-model") == []
