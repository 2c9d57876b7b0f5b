"""The library controller looks after the library without a window: folders restored, scanned,
watched and polled, what is new indexed and tagged, scans tracked and cancellable, and closing
stops a scan at its next file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from latentstudio.context import AppContext
from latentstudio.engine import EventKind, JobEvent, JobState
from latentstudio.library.analysis import service as tag_service
from latentstudio.library.controller import FOLDER, SCAN, FolderChange
from tests.support.shape_pictures import write_shapes


@pytest.fixture
def events(ctx: AppContext) -> list[JobEvent]:
    seen: list[JobEvent] = []
    detach = ctx.hub.add_listener(seen.append)
    yield seen
    detach()


def _wait(condition, timeout: float = 60.0) -> None:
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not condition():
            assert not done.wait(0.05), "timed out"
    finally:
        deadline.cancel()


def test_start_restores_scans_indexes_and_tags_what_is_new(ctx: AppContext, tiny_models, tmp_path: Path,
                                                           events) -> None:
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    photos = write_shapes(tmp_path / "photos", per_class=1, seed=4, size=48)
    ctx.settings.update(library_folders=[str(photos)])  # a folder kept in Settings, not in the database
    tag_service.add_tags(ctx, ["red"])
    controller = ctx.library_controller
    controller.rescan_delay_s = 0.2
    controller.start()
    store = ctx.library.store

    def seen() -> set:
        return {(e.handle.kind, e.kind) for e in list(events) if e.handle is not None}

    _wait(lambda: ("tags", EventKind.FINISHED) in seen())  # tagging follows the indexing
    assert store.status()["indexed"] == 12
    assert {(FOLDER, EventKind.FINISHED), (SCAN, EventKind.STARTED), (SCAN, EventKind.FINISHED),
            ("index", EventKind.FINISHED)} <= seen()

    # A picture copied into the folder (a subfolder: watched too) is found without a Rescan.
    (photos / "new").mkdir()
    (photos / "new" / "copy.jpg").write_bytes((photos / "red-circle-0.jpg").read_bytes())
    _wait(lambda: store.status()["images"] == 13)
    assert store.image_by_path(str(photos / "new" / "copy.jpg")) is not None


def test_folders_are_added_refused_and_removed_as_tracked_jobs(ctx: AppContext, tmp_path: Path, events) -> None:
    controller = ctx.library_controller
    photos = write_shapes(tmp_path / "photos", per_class=1, seed=4, size=48)
    added = controller.add_folder(photos)
    refused = controller.add_folder(tmp_path / "not-a-folder")
    assert isinstance(added.result(30), FolderChange) and not added.result().refused
    assert refused.result(30).refused == f"{tmp_path / 'not-a-folder'} is not a folder"
    assert ctx.settings.library_folders == [str(photos)]
    _wait(lambda: not controller.busy)
    assert ctx.library.store.status()["images"] == 12  # the scan that followed the add
    removed = controller.remove_folder(photos).result(30)
    assert (removed.added, removed.removed) == (False, 12) and ctx.settings.library_folders == []
    assert photos.is_dir() and len(list(photos.iterdir())) == 12  # files are never touched
    names = [e.handle.name for e in events if e.handle is not None and e.kind is EventKind.QUEUED]
    assert names[0] == f"Add {photos}" and f"Remove {photos}" in names


def test_closing_during_a_large_scan_stops_it_at_the_next_file(ctx: AppContext, tmp_path: Path, events) -> None:
    photos = tmp_path / "many"
    photos.mkdir()
    for k in range(20_000):
        (photos / f"{k:05d}.jpg").write_bytes(b"\xff\xd8 not decoded by a scan")
    controller = ctx.library_controller
    ctx.library.add_folder(photos)
    scan = controller.rescan()
    _wait(lambda: scan.state is JobState.RUNNING)
    thread = next(t for t in threading.enumerate() if t.name == "latent-library")
    controller.close(timeout=30)
    assert not thread.is_alive()
    assert scan.state is JobState.CANCELLED
    assert controller.rescan() is None  # a closed controller starts nothing
    assert ctx.library.store.status()["images"] < 20_000  # it stopped before the end


def test_cancel_stops_a_scan_and_the_next_rescan_resumes(ctx: AppContext, tmp_path: Path) -> None:
    photos = tmp_path / "many"
    photos.mkdir()
    for k in range(5_000):
        (photos / f"{k:05d}.jpg").write_bytes(b"\xff\xd8" + k.to_bytes(4, "big"))
    ctx.library.add_folder(photos)
    controller = ctx.library_controller
    scan = controller.rescan()
    _wait(lambda: scan.state is not JobState.QUEUED)
    controller.cancel()
    scan.wait(30)
    assert scan.state in (JobState.CANCELLED, JobState.FINISHED)  # a fast scan may have ended first
    controller.rescan().result(60)  # what the stopped scan committed stays; this one adds the rest
    assert ctx.library.store.status()["images"] == 5_000
