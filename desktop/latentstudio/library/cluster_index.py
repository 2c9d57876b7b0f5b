"""Index on a Ray cluster: the scan stays local, the encoding runs as a Ray Data pipeline.

    items (file bytes shipped by this client, or paths the workers read themselves)
      → map_batches(decode_batch)   tasks: the library's own robust decoder
      → map_batches(ClipEncoder)    actors that load the model once (one GPU each where there are GPUs)
      → iter_batches                vectors streamed back and committed with the store's record_batch

Runs as a BACKGROUND engine job like local indexing: after each committed batch it checkpoints
(a search runs meanwhile; Cancel stops here and ends the cluster work). Whatever was committed
stays; a rerun encodes only what still has no vector. A worker that dies mid-batch is restarted
by Ray and its batch retried (Ray Data actor pools restart actors and retry their tasks).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional, Sequence

import numpy as np

from ..models.clip_loader import PixelSpec, clip_in_job
from ..models.registry import InstalledModel
from .cluster_setup import LOCAL, ClusterError, PathMap, map_path, ray_session
from .cluster_workers import Batch, ClipEncoder, ModelShipment, decode_batch, model_files
from .decode import DecodeError, read_image_bytes
from .file_kinds import is_video
from .indexer import IndexReport, default_batch_size, format_eta
from .store import DecodedInfo, ImageRow

if TYPE_CHECKING:
    from ..context import AppContext
    from ..engine import Engine, JobContext, JobHandle
    from ..engine.jobs import EventCallback
    from ..models import ModelRegistry
    from .photo_library import Library

log = logging.getLogger(__name__)

WINDOW_ROWS = 50_000  # images per Ray Data run: bounds the item list this client holds
WINDOW_BYTES = 512 * 2**20  # file bytes shipped per run when the workers cannot read the files
DECODE_BATCH = 16

RAY_DATA_THREAD_JOIN_S = 30.0  # waiting for Ray Data's own threads to stop after the stream closes


@dataclass
class ClusterIndexReport(IndexReport):
    address: str = ""
    transport: str = ""  # "paths" (workers read the files) or "bytes" (this client ships them)
    workers: int = 0
    nodes: dict[str, int] = field(default_factory=dict)  # images encoded per node
    missing: list[str] = field(default_factory=list)  # files the workers could not see

    def cluster_json(self) -> dict:
        return {"address": self.address, "transport": self.transport, "workers": self.workers,
                "nodes": dict(self.nodes), "missing_on_workers": list(self.missing)}

    def to_json(self) -> dict:
        return {**super().to_json(), **self.cluster_json()}


@dataclass(frozen=True)
class ClusterPlan:
    address: str = LOCAL
    path_maps: tuple[PathMap, ...] = ()
    ship_bytes: Optional[bool] = None  # None: workers read paths on `local` or with path maps
    workers: Optional[int] = None  # encoder actors (default: one per GPU, else one per CPU)
    batch_size: Optional[int] = None

    def transport(self) -> str:
        if self.ship_bytes is None:
            return "paths" if self.address == LOCAL or self.path_maps else "bytes"
        return "bytes" if self.ship_bytes else "paths"

    def worker_path(self, path: str) -> str:
        if not self.path_maps:
            return path
        mapped = map_path(path, self.path_maps)
        if mapped is None:
            raise ClusterError(f"{path} is outside every --path-map; add one for its folder")
        return mapped


def _cluster_shape(plan: ClusterPlan) -> tuple[int, bool]:
    """(encoder actors, whether each gets a GPU) from the cluster's resources."""
    import ray

    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if plan.workers:
        return plan.workers, gpus >= plan.workers
    if gpus:
        return gpus, True
    # On CPUs Ray Data fuses decode into the encoder actors (same resources), so one actor per CPU.
    return max(1, int(resources.get("CPU", 1))), False


def _shipment(installed: InstalledModel, plan: ClusterPlan) -> ModelShipment:
    """The model read from a shared path where the workers see it (the same machine, or a path
    map covering it), else its files through the object store."""
    import ray

    if plan.transport() == "paths":
        if plan.address == LOCAL and not plan.path_maps:
            return ModelShipment(installed)
        shared = map_path(str(installed.path), plan.path_maps)
        if shared is not None:
            return ModelShipment(replace(installed, folder=Path(shared), entry="."))
    files, entry = model_files(installed)
    return ModelShipment(installed, files={"ref": ray.put(files)}, entry=entry)


def _check_worker_paths(samples: dict[str, str]) -> None:
    """With path maps: a worker must see a sample of the mapped paths, or nothing starts (a
    wrong map would otherwise leave every image waiting, or fail every actor's model load)."""
    import ray

    @ray.remote(num_cpus=0)
    def visible(paths: list[str]) -> list[bool]:
        return [os.path.exists(path) for path in paths]

    found = ray.get(visible.remote(list(samples.values())), timeout=120)
    unseen = [f"{what} ({path})" for (what, path), ok in zip(samples.items(), found) if not ok]
    if unseen:
        raise ClusterError("the workers cannot see " + "; ".join(unseen) + ": check --path-map")


def _windows(rows: Sequence[ImageRow], transport: str) -> Iterator[list[ImageRow]]:
    window: list[ImageRow] = []
    size = 0
    for row in rows:
        window.append(row)
        size += row.size if transport == "bytes" else 0
        if len(window) >= WINDOW_ROWS or size >= WINDOW_BYTES:
            yield window
            window, size = [], 0
    if window:
        yield window


def _items(window: Sequence[ImageRow], plan: ClusterPlan) -> tuple[list[dict], list[tuple[ImageRow, str]]]:
    """Ray Data items for a window, and the files this client could not even read (bytes mode)."""
    items, failed = [], []
    for row in window:
        if plan.transport() == "paths":
            items.append({"id": row.id, "path": plan.worker_path(row.path)})
            continue
        try:
            items.append({"id": row.id, "path": row.path, "data": read_image_bytes(row.path)})
        except DecodeError as exc:
            failed.append((row, str(exc)))
    return items, failed


def _pipeline(items: list[dict], spec: PixelSpec, shipment: ModelShipment, workers: int, gpu: bool,
              batch_size: int):
    import ray.data

    blocks = max(1, min(len(items), (len(items) + DECODE_BATCH - 1) // DECODE_BATCH))
    dataset = ray.data.from_items(items, override_num_blocks=blocks)
    decoded = dataset.map_batches(decode_batch, fn_kwargs={"spec": spec}, batch_size=DECODE_BATCH,
                                  batch_format="numpy", num_cpus=1)
    return decoded.map_batches(
        ClipEncoder,
        fn_constructor_kwargs={"shipment": shipment},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_gpus=1 if gpu else 0,
        num_cpus=0 if gpu else 1,  # GPU actors leave the CPUs to the decode tasks
    )


def _quiet_ray_data() -> None:
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False  # this job reports its own progress
    context.execution_options.verbose_progress = False
    for name in ("ray.data", "ray"):  # after the import: Ray Data sets up its loggers when imported
        logging.getLogger(name).setLevel(logging.ERROR)


def commit_batch(library: "Library", model: str, rows: dict[int, ImageRow], out: Batch,
                 report: ClusterIndexReport) -> int:
    """Commit one streamed batch with the store's own record_batch; returns images it settled."""
    encoded, failed = [], []
    for i, image_id in enumerate(out["id"]):
        row = rows[int(image_id)]
        if out["missing"][i]:
            report.missing.append(row.path)
        elif out["ok"][i]:
            taken = float(out["taken"][i])
            info = DecodedInfo(int(out["width"][i]), int(out["height"][i]), None if np.isnan(taken) else taken,
                               str(out["format"][i]))
            encoded.append((row, info, out["vector"][i]))
        else:
            failed.append((row, str(out["reason"][i])))
    library.store.record_batch(model, encoded, failed)
    report.encoded += len(encoded)
    report.skipped += [(row.path, reason) for row, reason in failed]
    for node, n in Counter(str(out["node"][i]) for i in range(len(out["id"])) if out["ok"][i]).items():
        report.nodes[node] = report.nodes.get(node, 0) + n
    return len(out["id"])


def cluster_index_job(job: "JobContext", library: "Library", installed: InstalledModel,
                      plan: ClusterPlan) -> ClusterIndexReport:
    """Encode every picture without a vector for the model on the cluster of `plan.address`;
    videos (many frames from one file, read by seeking) wait for an index run on this machine."""
    rows = [row for row in library.store.pending(installed.id) if not is_video(row.path)]
    report = ClusterIndexReport(total=len(rows), address=plan.address, transport=plan.transport())
    if not rows:
        job.progress(0, 0, "nothing to index")
        return report
    for row in rows[:1]:
        plan.worker_path(row.path)  # a missing path map fails before connecting
    job.progress(0, report.total, "reading the CLIP model's settings…")
    with clip_in_job(job, installed) as clip:  # the pixel spec; also proves the model loads
        spec = clip.spec
    job.progress(0, report.total, f"connecting to the Ray cluster ({plan.address})…")
    with ray_session(plan.address):
        _quiet_ray_data()
        workers, gpu = _cluster_shape(plan)
        report.workers = workers
        shipment = _shipment(installed, plan)
        if plan.path_maps:
            firsts = {row.folder_id: row for row in reversed(rows)}  # one image of each folder
            samples = {f"image {row.path}": plan.worker_path(row.path) for row in firsts.values()}
            if shipment.files is None:
                samples[f"model {installed.id}"] = str(shipment.installed.path)
            _check_worker_paths(samples)
        batch_size = plan.batch_size or default_batch_size(gpu)
        start = time.perf_counter()
        done = 0
        for window in _windows(rows, report.transport):
            by_id = {row.id: row for row in window}
            items, unreadable = _items(window, plan)
            if unreadable:
                library.store.record_batch(installed.id, [], unreadable)
                report.skipped += [(row.path, reason) for row, reason in unreadable]
                done += len(unreadable)
            if not items:
                continue
            threads_before = set(threading.enumerate())
            stream = iter(_pipeline(items, spec, shipment, workers, gpu, batch_size)
                          .iter_batches(batch_size=None, batch_format="numpy"))
            try:
                for out in stream:
                    done += commit_batch(library, installed.id, by_id, out, report)
                    report.seconds = time.perf_counter() - start
                    rate = done / report.seconds if report.seconds > 0 else 0.0
                    eta = format_eta((report.total - done) / rate) if rate else "…"
                    job.progress(done, report.total, f"{done}/{report.total} images · {rate:.1f} images/s · "
                                 f"ETA {eta} · {len(report.nodes)} node(s), {workers} worker(s)")
                    job.checkpoint()
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()  # stops the streaming executor: no cluster work outlives a cancel
                # Ray Data joins its executor thread for 2 s only; one still running when the
                # session shuts Ray down makes Ray end the whole process (exit 1, not 130).
                for thread in set(threading.enumerate()) - threads_before:
                    if thread.name.startswith("StreamingExecutor"):
                        thread.join(RAY_DATA_THREAD_JOIN_S)
    report.seconds = time.perf_counter() - start
    return report


def submit_cluster_index(ctx: "AppContext", plan: ClusterPlan, model_id: Optional[str] = None,
                         on_event: Optional["EventCallback"] = None) -> "JobHandle":
    """`index_on_cluster` with the context's engine, registry and library (the CLI's way)."""
    return index_on_cluster(ctx.engine, ctx.registry, ctx.library, plan, model_id, on_event)


def index_on_cluster(engine: "Engine", registry: "ModelRegistry", library: "Library", plan: ClusterPlan,
                     model_id: Optional[str] = None, on_event: Optional["EventCallback"] = None) -> "JobHandle":
    """Encode what has no vector yet on a Ray cluster, as a BACKGROUND job (like index_library)."""
    from ..engine import Priority

    installed = registry.resolve("clip", model_id)  # MissingModelError before any cluster work
    return engine.submit(lambda job: cluster_index_job(job, library, installed, plan),
                         priority=Priority.BACKGROUND, name="Index photo library on a cluster",
                         kind="index", on_event=on_event)
