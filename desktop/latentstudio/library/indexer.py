"""The index job: decode on a thread pool while batches are encoded.

Runs as a BACKGROUND engine job. After every batch the vectors are committed and the job
checkpoints (a search typed meanwhile runs right there; Cancel stops here). The onnxruntime
tower encodes the next batch meanwhile, on its own threads. An interrupted run loses at most
the two batches in flight: the next run picks up the images that still have no vector.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence, Union

import numpy as np

from ..models.clip_loader import PixelSpec
from ..models.image_encoding.encoder import PictureEncoder, image_encoder_in_job
from ..models.image_encoding.onnx_tower import Encoding, OnnxImageEncoder
from ..models.registry import InstalledModel
from .decode import DecodeError, decode_image
from .store import DecodedInfo, ImageRow
from .thumbnails import THUMBNAIL_SIZE, save_thumbnail
from .file_kinds import is_video
from .video_index import encode_videos

if TYPE_CHECKING:
    from ..engine import JobContext
    from ..engine.residency import ModelCache
    from .photo_library import Library

log = logging.getLogger(__name__)

Prepared = Union[tuple[DecodedInfo, np.ndarray], str]  # decoded pixels, or the reason it failed


@dataclass
class IndexReport:
    total: int = 0
    encoded: int = 0
    reused: int = 0  # decoded again, their stored vector kept (a file back in the library)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    encoder: str = ""  # which picture tower encoded: "onnxruntime" or "torch" ("" when none was needed)
    videos: int = 0  # videos indexed, with their moments and seconds of video
    moments: int = 0
    video_seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return (self.encoded + self.reused + len(self.skipped)) / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict:
        return {
            "total": self.total,
            "encoded": self.encoded,
            "reused": self.reused,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "seconds": round(self.seconds, 3),
            "images_per_second": round(self.images_per_second, 2),
            "encoder": self.encoder,
            "videos": self.videos,
            "moments": self.moments,
            "video_seconds": round(self.video_seconds, 1),
        }


def prepare(row: ImageRow, spec: PixelSpec, thumbnails: Optional[Path]) -> Prepared:
    """Decode one file into model pixels (and its thumbnail): runs on a decode thread."""
    try:
        decoded = decode_image(Path(row.path), min_side=max(max(spec.size), THUMBNAIL_SIZE))
        if thumbnails is not None and row.hash:
            try:
                save_thumbnail(thumbnails, row.hash, decoded.image)
            except OSError as exc:  # a full disk must not stop indexing
                log.warning("cannot write thumbnail for %s: %s", row.path, exc)
        pixels = spec.to_pixels(decoded.image)
    except DecodeError as exc:
        return str(exc)
    except Exception as exc:  # one broken file never stops the run
        log.exception("unexpected error decoding %s", row.path)
        return f"cannot decode ({type(exc).__name__}: {exc})"
    return DecodedInfo(decoded.width, decoded.height, decoded.taken, decoded.format), pixels


def format_eta(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def default_batch_size(gpu: bool, encoder: str = "torch") -> int:
    """Pictures per encoder call. Beside onnxruntime on the CPU, 16 indexed faster than 32 (2 cores:
    96 × 12 MP 5.5–6.0 s against 6.1–6.6 s; 300 × 2 MP 12.4–13.9 s against 13.2–15.1 s)."""
    if gpu:
        return 128
    return 16 if encoder == "onnxruntime" else 32


def default_workers(gpu: bool, encoder: str = "torch") -> int:
    """Decode threads. With a GPU decoding is the only CPU work. On the CPU they share the cores
    with the encoder: beside torch's threads more than half the cores slowed indexing down, while
    beside onnxruntime's a thread per core was faster (2 cores, 96 × 12 MP: 6.1–6.5 s against
    7.3–7.6 s with one decode thread)."""
    cores = os.cpu_count() or 2
    if gpu:
        return max(2, min(8, cores))
    if encoder == "onnxruntime":
        return max(1, min(4, cores))
    return max(1, min(4, cores // 2))


@dataclass
class Batch:
    """Decoded pictures on their way to the store, the new ones' vectors being computed."""

    fresh: list[tuple[ImageRow, DecodedInfo]] = field(default_factory=list)
    pixels: Optional[np.ndarray] = None  # of the new ones
    encoding: Optional[Encoding] = None  # their vectors, under way
    reused: list[tuple[ImageRow, DecodedInfo, np.ndarray]] = field(default_factory=list)
    failed: list[tuple[ImageRow, str]] = field(default_factory=list)

    def settle(self) -> None:
        if self.encoding is not None:
            self.encoding.wait()


def start_encoding(clip: PictureEncoder, pixels: np.ndarray, cache: "ModelCache") -> Encoding:
    """The onnxruntime tower encodes on its own threads, so the next batch can start before this
    one is stored; torch encodes here, on the inference thread that owns the device."""
    if isinstance(clip, OnnxImageEncoder):
        return clip.start_encoding(pixels)
    return Encoding.finished(cache.call_with_oom_retry(lambda: clip.encode_pixels(pixels), "encode images"))


def collect_vectors(batch: Batch, clip: PictureEncoder, cache: "ModelCache") -> np.ndarray:
    """The batch's new vectors; after out-of-memory, other models are evicted and it is encoded again."""
    assert batch.pixels is not None and batch.encoding is not None
    pixels, under_way = batch.pixels, [batch.encoding]

    def collect() -> np.ndarray:
        encoding = under_way.pop() if under_way else start_encoding(clip, pixels, cache)
        return encoding.vectors()

    return cache.call_with_oom_retry(collect, "encode images")


def encode_rows(
    job: "JobContext",
    library: "Library",
    clip: PictureEncoder,
    model: str,
    rows: Sequence[ImageRow],
    batch_size: int,
    workers: int,
) -> IndexReport:
    report = IndexReport(total=len(rows))
    # The cache that holds the encoder evicts others on out-of-memory (asking for the device's
    # cache would detect the device, importing torch, when onnxruntime encodes).
    cache = job.cpu_models if isinstance(clip, OnnxImageEncoder) else job.models
    start = time.perf_counter()
    job.progress(0, report.total, f"0/{report.total} images")
    window = batch_size * 3  # decoded look-ahead: keeps the encoder fed, bounds memory
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="latent-decode")
    try:
        queue: deque[tuple[ImageRow, Future]] = deque()
        upcoming = iter(rows)

        def refill() -> None:
            while len(queue) < window:
                row = next(upcoming, None)
                if row is None:
                    return
                queue.append((row, pool.submit(prepare, row, clip.spec, library.thumbnails)))

        def take_batch() -> Batch:
            """The next decoded batch, its new pictures' encoding started."""
            batch = Batch()
            decoded: list[tuple[ImageRow, DecodedInfo, np.ndarray]] = []
            while queue and len(decoded) < batch_size:
                row, future = queue.popleft()
                refill()
                outcome = future.result()
                if isinstance(outcome, str):
                    batch.failed.append((row, outcome))
                else:
                    decoded.append((row, outcome[0], outcome[1]))
            stored = library.store.stored_vectors(model, [row.hash for row, _, _ in decoded if row.hash])
            batch.reused = [(row, info, stored[row.hash]) for row, info, _ in decoded if row.hash in stored]
            fresh = [item for item in decoded if item[0].hash not in stored]
            if fresh:
                batch.fresh = [(row, info) for row, info, _ in fresh]
                batch.pixels = np.stack([pixels for _, _, pixels in fresh])
                batch.encoding = start_encoding(clip, batch.pixels, cache)
            return batch

        refill()
        # The onnxruntime tower encodes the next batch while this one is stored and checkpointed;
        # torch encodes on this thread, where working ahead would only risk one batch more.
        in_flight: deque[Batch] = deque()
        depth = 2 if isinstance(clip, OnnxImageEncoder) else 1
        while queue or in_flight:
            while queue and len(in_flight) < depth:
                in_flight.append(take_batch())
            batch = in_flight.popleft()
            vectors = collect_vectors(batch, clip, cache) if batch.fresh else []
            encoded = [(row, info, vector) for (row, info), vector in zip(batch.fresh, vectors)]
            library.store.record_batch(model, encoded + batch.reused, batch.failed)
            report.encoded += len(encoded)
            report.reused += len(batch.reused)
            report.skipped += [(row.path, reason) for row, reason in batch.failed]
            done = report.encoded + report.reused + len(report.skipped)
            report.seconds = time.perf_counter() - start
            rate = report.images_per_second
            eta = format_eta((report.total - done) / rate) if rate else "…"
            job.progress(done, report.total, f"{done}/{report.total} images · {rate:.1f} images/s · ETA {eta}")
            # A search typed meanwhile runs here once the batch ahead is encoded, so that it has
            # the cores (after Cancel, that batch ends on its own threads; nothing waits for it).
            job.checkpoint(settle=in_flight[0].settle if in_flight else None)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    report.seconds = time.perf_counter() - start
    return report


def index_job(
    job: "JobContext",
    library: "Library",
    installed: InstalledModel,
    image_ids: Optional[Sequence[int]] = None,
    batch_size: Optional[int] = None,
    workers: Optional[int] = None,
) -> IndexReport:
    """Encode every image that has no vector for the model yet (or only `image_ids`)."""
    rows = library.store.pending(installed.id, image_ids)
    if not rows:
        job.progress(0, 0, "nothing to index")
        return IndexReport()
    # Pictures first (they are ready in seconds), then videos, one moment batch at a time.
    videos = [row for row in rows if is_video(row.path)]
    pictures = [row for row in rows if not is_video(row.path)]
    job.progress(0, len(rows), "loading the CLIP model…")
    with image_encoder_in_job(job, installed) as (encoder, name):
        gpu = name == "torch" and job.device.is_gpu
        batch = batch_size or default_batch_size(gpu, name)
        report = encode_rows(job, library, encoder, installed.id, pictures, batch, workers or default_workers(gpu, name))
        if videos:
            started = time.perf_counter() - report.seconds
            cache = job.cpu_models if isinstance(encoder, OnnxImageEncoder) else job.models
            tally, skipped = encode_videos(job, library, encoder, cache, installed.id, videos, batch,
                                           len(pictures), len(rows))
            report.total += len(videos)
            report.encoded += tally.videos
            report.skipped += skipped
            report.videos, report.moments, report.video_seconds = tally.videos, tally.moments, tally.seconds_of_video
            report.seconds = time.perf_counter() - started
    report.encoder = name
    return report
