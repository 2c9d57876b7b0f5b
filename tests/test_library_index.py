"""The index job: resume after cancel or a crash, progress, and searches answered during indexing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentstudio.engine import Cancelled, EventKind, JobEvent
from latentstudio.library import add_folders, add_generated_image, search_library, submit_index
from latentstudio.models.clip_loader import ClipModel


@pytest.fixture
def clip_ctx(ctx, tiny_models):
    ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="tiny", link=True)
    return ctx


def _folder(root: Path, count: int) -> Path:
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(root / f"img{i:03d}.png")
    return root


def _vectors(ctx) -> int:
    return ctx.library.store.status()["vectors"].get("tiny", 0)


def test_cancel_keeps_committed_batches_and_the_next_run_resumes(clip_ctx, tmp_path: Path) -> None:
    add_folders(clip_ctx, [_folder(tmp_path / "photos", 24)])
    clip_ctx.library.scan()
    progress: list = []

    def cancel_after_first_batch(event: JobEvent) -> None:
        if event.kind is EventKind.PROGRESS:
            progress.append(event.payload)
            if event.payload.done >= 4:
                event.handle.cancel()

    handle = submit_index(clip_ctx, batch_size=4, on_event=cancel_after_first_batch)
    with pytest.raises(Cancelled):
        handle.result(120)
    done_before = _vectors(clip_ctx)
    assert done_before == 4
    assert "images/s" in progress[-1].message and "ETA" in progress[-1].message
    assert progress[-1].total == 24

    resumed = submit_index(clip_ctx, batch_size=4).result(120)
    assert resumed.total == 20 and resumed.encoded == 20
    assert _vectors(clip_ctx) == 24


def test_a_crash_mid_run_loses_only_the_batch_in_flight(clip_ctx, tmp_path: Path, monkeypatch) -> None:
    add_folders(clip_ctx, [_folder(tmp_path / "photos", 20)])
    clip_ctx.library.scan()
    original = ClipModel.encode_pixels
    calls = {"n": 0}

    def failing(self, pixels):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated crash in the third batch")
        return original(self, pixels)

    monkeypatch.setattr(ClipModel, "encode_pixels", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        submit_index(clip_ctx, batch_size=4).result(120)
    assert _vectors(clip_ctx) == 8
    monkeypatch.setattr(ClipModel, "encode_pixels", original)
    assert submit_index(clip_ctx, batch_size=4).result(120).encoded == 12
    assert _vectors(clip_ctx) == 20


def test_search_runs_between_index_batches(clip_ctx, tmp_path: Path) -> None:
    add_folders(clip_ctx, [_folder(tmp_path / "photos", 24)])
    clip_ctx.library.scan()
    finished: list[str] = []
    searches = []

    def on_index(event: JobEvent) -> None:
        if event.kind is EventKind.PROGRESS and event.payload.done == 4 and not searches:
            from latentstudio.library import SearchRequest, submit_search

            handle = submit_search(clip_ctx, SearchRequest(text="anything", min_score=-1.0))
            handle.subscribe(lambda e: finished.append("search") if e.kind is EventKind.FINISHED else None)
            searches.append(handle)
        if event.kind is EventKind.FINISHED:
            finished.append("index")

    submit_index(clip_ctx, batch_size=4, on_event=on_index).result(120)
    assert finished == ["search", "index"]
    hits = searches[0].result(10)
    assert 4 <= len(hits) < 24  # it saw the batches committed before it ran, not the later ones


def test_generated_images_are_recorded_and_indexed(ctx, tiny_models) -> None:
    out = ctx.paths.outputs / "2024-01-01"
    out.mkdir(parents=True)
    image = out / "00001.png"
    Image.new("RGB", (32, 32), (250, 0, 0)).save(image)
    assert add_generated_image(ctx, image, "a red square") is None  # no CLIP model yet
    ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="tiny", link=True)
    second = out / "00002.png"
    Image.new("RGB", (32, 32), (0, 0, 250)).save(second)
    handle = add_generated_image(ctx, second, "a blue square")
    assert handle is not None and handle.priority.name == "BACKGROUND"
    assert handle.result(60).encoded == 1
    rows = {Path(r.path).name: r for r in ctx.library.store.images_in(ctx.library.folders()[0].id).values()}
    assert rows["00002.png"].generated and rows["00002.png"].prompt == "a blue square"
    assert rows["00001.png"].prompt == "a red square" and rows["00001.png"].status == "pending"
    hits = search_library(ctx, image=second, limit=5, min_score=-1.0)
    assert hits[0].path == second and hits[0].score == pytest.approx(1.0, abs=1e-3)
    assert hits[0].generated and hits[0].prompt == "a blue square"
    with pytest.raises(ValueError, match="outputs"):
        add_generated_image(ctx, Path(__file__), "not an output")


@pytest.mark.gpu
def test_index_and_search_on_cuda_in_float16(paths, tiny_models, tmp_path: Path) -> None:
    from latentstudio.context import AppContext
    from latentstudio.engine import detect_device

    device = detect_device("cuda")
    assert device.kind == "cuda" and device.dtype_name == "float16"
    gpu_ctx = AppContext(paths, device=device)
    try:
        gpu_ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
        add_folders(gpu_ctx, [_folder(tmp_path / "photos", 40)])
        gpu_ctx.library.scan()
        report = submit_index(gpu_ctx).result(120)
        assert report.encoded == 40
        target = tmp_path / "photos" / "img007.png"
        hits = search_library(gpu_ctx, image=target, limit=3, min_score=-1.0)
        assert hits[0].path == target and hits[0].score == pytest.approx(1.0, abs=1e-2)
        assert search_library(gpu_ctx, "a red circle", limit=5, min_score=-1.0)
    finally:
        gpu_ctx.close()


def test_the_matrix_is_saved_for_the_next_start_and_ignored_once_stale(clip_ctx, tmp_path: Path, monkeypatch) -> None:
    from latentstudio.library import photo_library
    from latentstudio.library.photo_library import Library

    monkeypatch.setattr(photo_library, "SAVE_INDEX_FROM_ROWS", 1)
    add_folders(clip_ctx, [_folder(tmp_path / "photos", 12)])
    clip_ctx.library.scan()
    submit_index(clip_ctx).result(120)
    first = search_library(clip_ctx, "a photo", limit=5, min_score=-1.0)
    from latentstudio.engine import Priority

    # Jobs of one priority run in order: once this one is done, the BACKGROUND save has run.
    clip_ctx.engine.submit(lambda job: None, priority=Priority.BACKGROUND, name="after the save").result(30)
    saved = tmp_path / "home" / "vector-cache" / "tiny"
    assert (saved / "matrix.npy").is_file()

    restarted = Library(clip_ctx.paths)  # what a new process sees
    index = restarted.vector_index("tiny")
    assert index.saved and len(index) == 12
    assert np.array_equal(np.sort(index.ids), np.sort(clip_ctx.library.vector_index("tiny").ids))
    again = search_library(clip_ctx, "a photo", limit=5, min_score=-1.0)
    assert [(h.path, round(h.score, 5)) for h in again] == [(h.path, round(h.score, 5)) for h in first]

    (tmp_path / "photos" / "img000.png").unlink()
    restarted.scan()  # a write: the saved copy no longer matches the database
    fresh = restarted.vector_index("tiny")
    assert not fresh.saved and len(fresh) == 11
    restarted.close()


@pytest.mark.slow
def test_kill_9_mid_index_loses_nothing_committed(clip_ctx, tmp_path: Path) -> None:
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    photos = tmp_path / "big"
    photos.mkdir()
    y, x = np.mgrid[0:900, 0:1200]
    for i in range(120):  # PNGs have no reduced-scale decode: each takes a while to read
        rgb = np.stack([(x * (i + 1)) % 256, (y * 3 + i) % 256, (x + y + 7 * i) % 256], axis=-1)
        Image.fromarray(rgb.astype(np.uint8)).save(photos / f"p{i:03d}.png", compress_level=1)
    env = dict(os.environ, LATENT_STUDIO_HOME=str(clip_ctx.paths.home))
    process = subprocess.Popen([sys.executable, "-m", "latentstudio.cli", "index", str(photos)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db_path = clip_ctx.paths.library_db
    committed = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if db_path.exists():
            with sqlite3.connect(db_path, timeout=30) as db:
                committed = db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
            if committed:
                break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert process.returncode == -signal.SIGKILL, "the index run finished before it could be killed"
    assert 0 < committed < 120

    library = clip_ctx.library
    assert library.store.connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = _vectors(clip_ctx)
    assert kept >= committed
    report = submit_index(clip_ctx).result(300)
    assert report.encoded == 120 - kept
    assert _vectors(clip_ctx) == 120 and library.store.status()["indexed"] == 120
