"""Indexing through a Ray cluster: one local Ray runtime for the module (4 logical CPUs on
127.0.0.1: two encoder worker processes and decode tasks), shut down at the end."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import ray
from PIL import Image

from latentstudio.context import AppContext
from latentstudio.engine import Cancelled, DeviceInfo, EventKind, JobEvent
from latentstudio.library import add_folders, search_library, submit_index
from latentstudio.library.cluster_index import ClusterPlan, submit_cluster_index
from latentstudio.paths import Paths
from tests.support import tiny_clip
from tests.test_library_decode import _bad_corpus, _jpeg_bytes

pytestmark = pytest.mark.cluster

WORKER_TITLE = b"ray::MapWorker"  # the process title of Ray Data's actor-pool workers


@pytest.fixture(scope="module")
def ray_runtime() -> Iterator[str]:
    ray.init(num_cpus=4, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _context(home: Path, tiny_models) -> AppContext:
    context = AppContext(Paths(home).ensure(), device=DeviceInfo.cpu("tests run on the CPU"))
    context.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    return context


def _shapes(folder: Path, per_class: int = 6, seed: int = 2024) -> Path:
    folder.mkdir()
    rng = random.Random(seed)
    for colour, shape in tiny_clip.classes():
        for k in range(per_class):
            tiny_clip.shape_image(colour, shape, rng, size=96).save(folder / f"{colour}-{shape}-{k}.jpg", quality=92)
    return folder


def _indexed(context: AppContext, folders: list[Path], plan: ClusterPlan | None):
    add_folders(context, folders)
    scan = context.library.scan()
    handle = submit_index(context) if plan is None else submit_cluster_index(context, plan)
    return scan, handle.result(300)


def _workers() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(WORKER_TITLE):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _no_workers_left(timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while _workers() and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _workers()


def _vector_count(context: AppContext) -> int:
    return context.library.store.status()["vectors"].get("shapes", 0)


def test_cluster_vectors_skips_and_search_match_local_indexing(ray_runtime, tiny_models, tmp_path: Path) -> None:
    photos = _shapes(tmp_path / "photos")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    expected = _bad_corpus(corpus)
    (corpus / "good.jpg").write_bytes(_jpeg_bytes())
    Image.new("RGBA", (30, 30), (0, 0, 255, 128)).save(corpus / "good.png")
    Image.new("I;16", (30, 30)).save(corpus / "good.tif")

    runs = {}
    for name, plan in (("local", None), ("paths", ClusterPlan(workers=2)),
                       ("bytes", ClusterPlan(workers=2, ship_bytes=True))):
        context = _context(tmp_path / f"home-{name}", tiny_models)
        scan, report = _indexed(context, [photos, corpus], plan)
        runs[name] = (context, scan, report)
    try:
        local_ctx, local_scan, local_report = runs["local"]
        local_store = local_ctx.library.store
        local_skips = dict(local_scan.skipped + local_report.skipped)
        assert local_report.encoded == 72 + 3 and len(local_skips) == len(expected)
        queries = ["a red circle", "a blue square", "a green triangle", "a yellow star"]
        local_hits = {q: [h.path for h in search_library(local_ctx, text=q, limit=10, min_score=-1.0)] for q in queries}
        for name in ("paths", "bytes"):
            context, scan, report = runs[name]
            assert report.transport == name and report.workers == 2
            assert report.encoded == 75 and sum(report.nodes.values()) == 75 and report.missing == []
            assert dict(scan.skipped + report.skipped) == local_skips  # the same files, the same reasons
            store = context.library.store
            for row in store.pending("no-such-model"):  # every readable image, by content
                ours, theirs = store.vector_for_hash(row.hash, "shapes"), local_store.vector_for_hash(row.hash, "shapes")
                assert ours is not None and theirs is not None, row.path
                cosine = float(ours @ theirs / (np.linalg.norm(ours) * np.linalg.norm(theirs)))
                assert cosine >= 0.999, (name, row.path, cosine)
            assert store.status()["indexed"] == local_store.status()["indexed"] == 75
            for query in queries:
                hits = [h.path for h in search_library(context, text=query, limit=10, min_score=-1.0)]
                assert hits == local_hits[query], (name, query)
    finally:
        for context, _, _ in runs.values():
            context.close()
    assert _no_workers_left()


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(ray_runtime, ctx, tiny_models, tmp_path: Path) -> None:
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    photos = _shapes(tmp_path / "photos", per_class=12)  # 144 images
    add_folders(ctx, [photos])
    ctx.library.scan()
    killed: list[int] = []
    seen: list[int] = []

    def kill_one_worker(event: JobEvent) -> None:
        if event.kind is EventKind.PROGRESS and event.payload.done and not killed:
            workers = _workers()
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
                seen.append(int(event.payload.done))

    # Shipped bytes and model files: a restarted worker fetches the model from the object store again.
    plan = ClusterPlan(workers=2, batch_size=4, ship_bytes=True)
    report = submit_cluster_index(ctx, plan, on_event=kill_one_worker).result(300)
    assert killed and seen[0] < 144  # killed mid-run
    assert report.encoded == 144 and report.skipped == [] and sum(report.nodes.values()) == 144
    assert _vector_count(ctx) == 144
    status = ctx.library.store.status()
    assert status["indexed"] == 144 and status["pending"] == 0
    assert _no_workers_left()


def test_cancel_ends_the_cluster_work_and_keeps_what_was_committed(ray_runtime, ctx, tiny_models, tmp_path: Path) -> None:
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    add_folders(ctx, [_shapes(tmp_path / "photos", per_class=12)])
    ctx.library.scan()

    def cancel_after_first_batch(event: JobEvent) -> None:
        if event.kind is EventKind.PROGRESS and event.payload.done:
            assert "images/s" in event.payload.message and "ETA" in event.payload.message
            event.handle.cancel()

    handle = submit_cluster_index(ctx, ClusterPlan(workers=2, batch_size=4), on_event=cancel_after_first_batch)
    with pytest.raises(Cancelled):
        handle.result(300)
    committed = _vector_count(ctx)
    assert 4 <= committed < 144
    assert _no_workers_left()  # the cluster stopped encoding
    assert len(search_library(ctx, text="a red circle", limit=200, min_score=-1.0)) == committed
    rest = submit_cluster_index(ctx, ClusterPlan(workers=2)).result(300)
    assert rest.total == 144 - committed and rest.encoded == rest.total
    assert _vector_count(ctx) == 144
    # The search index caught up with the cluster's vectors through the change log.
    assert len(search_library(ctx, text="a red circle", limit=200, min_score=-1.0)) == 144
    assert ctx.library.full_reads == 1


def test_ctrl_c_and_a_killed_client_resume_encoding_only_what_is_missing(
    ray_runtime, ctx, tiny_models, tmp_path: Path
) -> None:
    """The command line connects to the running cluster by address: Ctrl-C stops it cleanly, a
    kill stops it dead, and each rerun encodes only the images that had no committed vector."""
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    photos = _shapes(tmp_path / "photos", per_class=24)  # 288 images
    total = 288
    command = [sys.executable, "-m", "latentstudio", "index", str(photos), "--cluster", ray_runtime,
               "--workers", "2", "--batch-size", "4", "--json"]  # small batches: commits spread over the run

    def stop_after(more: int, how: signal.Signals) -> subprocess.Popen:
        start = _vector_count(ctx)
        client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 240
        while _vector_count(ctx) < start + more and client.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.poll() is None, f"finished before it could be stopped: {client.communicate()[1].decode()[-2000:]}"
        client.send_signal(how)
        client.wait(120)
        return client

    interrupted = stop_after(8, signal.SIGINT)
    stderr = interrupted.stderr.read().decode()
    assert interrupted.returncode == 130, stderr[-2000:]
    assert "run the same command again to resume" in stderr
    after_interrupt = _vector_count(ctx)
    assert after_interrupt < total and len(ctx.library.store.pending("shapes")) == total - after_interrupt

    killed = stop_after(8, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    committed = _vector_count(ctx)
    assert after_interrupt < committed < total, (after_interrupt, committed)
    assert len(ctx.library.store.pending("shapes")) == total - committed

    # The last run finds the cluster as a machine that joined it does: --cluster auto.
    auto = [part if part != ray_runtime else "auto" for part in command]
    code = subprocess.run(auto, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "RAY_ADDRESS": ray_runtime})
    assert code.returncode == 0, code.stderr[-2000:]
    summary = json.loads(code.stdout)
    assert summary["indexed"] == total - committed and summary["completed"]
    assert summary["cluster"]["address"] == "auto"
    assert sum(summary["cluster"]["nodes"].values()) == total - committed
    assert _vector_count(ctx) == total
    assert _no_workers_left()


def test_path_maps_let_workers_read_the_files_and_a_wrong_one_writes_nothing(
    ray_runtime, ctx, tiny_models, tmp_path: Path
) -> None:
    from latentstudio.library.cluster_setup import ClusterError, PathMap

    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    photos = _shapes(tmp_path / "photos", per_class=1)
    (tmp_path / "share").symlink_to(photos)  # the workers' view of the same folder
    add_folders(ctx, [photos])
    ctx.library.scan()
    before = ctx.library.store.status()

    wrong = ClusterPlan(workers=2, path_maps=(PathMap.parse(f"{photos}={tmp_path}/nowhere"),))
    with pytest.raises(ClusterError, match=r"workers cannot see image .*nowhere.*check --path-map"):
        submit_cluster_index(ctx, wrong).result(300)
    assert ctx.library.store.status() == before  # nothing written

    outside = ClusterPlan(workers=2, path_maps=(PathMap.parse(f"{tmp_path}/other=/x"),))
    with pytest.raises(ClusterError, match="outside every --path-map"):
        submit_cluster_index(ctx, outside).result(300)

    mapped = ClusterPlan(address="127.0.0.1:1", workers=2, path_maps=(PathMap.parse(f"{photos}={tmp_path}/share"),))
    assert mapped.transport() == "paths" and mapped.worker_path(str(photos / "a.jpg")) == f"{tmp_path}/share/a.jpg"
    report = submit_cluster_index(ctx, ClusterPlan(workers=2, path_maps=mapped.path_maps)).result(300)
    assert report.transport == "paths" and report.encoded == 12 and report.missing == []
    assert _vector_count(ctx) == 12
    assert _no_workers_left()
