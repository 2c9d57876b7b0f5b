"""Index videos by their moments: frames sampled on a reader thread (FFmpeg decodes while the
encoder works), encoded in batches on the inference thread, each batch committed before the job
checkpoints, so a killed run resumes at the next moment not yet stored. When a video's moments are
all in, its mean becomes its vector (what duplicates, tags and themes see) and it is searchable."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional, Sequence, Union

import numpy as np

from ..models.image_encoding.encoder import PictureEncoder
from .decode import DecodeError
from .store import DecodedInfo, ImageRow
from .thumbnails import THUMBNAIL_SIZE, moment_key, save_thumbnail
from .file_kinds import VIDEO_FORMAT
from .video_decode import Moment, probe_video, sample_moments

if TYPE_CHECKING:
    from ..engine import JobContext
    from .photo_library import Library

log = logging.getLogger(__name__)

READ_AHEAD = 32  # moments decoded ahead of the encoder (each a small picture)


@dataclass
class VideoTally:
    videos: int = 0
    moments: int = 0
    seconds_of_video: float = 0.0
    waited: float = 0.0  # seconds the encoder waited for decoded frames


def _read_ahead(moments: Iterator[Moment], stop: threading.Event) -> Iterator[Union[Moment, DecodeError]]:
    """The moments, decoded on their own thread up to READ_AHEAD ahead; a DecodeError comes through
    as a value after the moments read before it."""
    box: "queue.Queue[object]" = queue.Queue(maxsize=READ_AHEAD)
    done = object()

    def offer(item: object) -> bool:
        """Hand an item over unless the encoder stopped taking them (a Cancel)."""
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for moment in moments:
                if not offer(moment):
                    return
            offer(done)
        except DecodeError as exc:
            offer(exc)
        except Exception as exc:  # one broken file never stops the run
            log.exception("unexpected error reading video frames")
            offer(DecodeError(f"cannot decode ({type(exc).__name__}: {exc})"))

    reader = threading.Thread(target=read, name="latent-video-read", daemon=True)
    reader.start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            yield item  # type: ignore[misc]
            if isinstance(item, DecodeError):
                return
    finally:
        stop.set()
        reader.join()


def encode_video(
    job: "JobContext", library: "Library", clip: PictureEncoder, cache, model: str, row: ImageRow,
    batch_size: int, tally: VideoTally,
) -> Optional[str]:
    """Encode one video's moments not stored yet and record it; the reason when it cannot be used."""
    path = Path(row.path)
    assert row.hash is not None
    try:
        info = probe_video(path)
    except DecodeError as exc:
        return str(exc)
    stored = library.store.moments_of(model, row.hash)
    min_side = max(max(clip.spec.size), THUMBNAIL_SIZE)
    batch: list[Moment] = []
    broken: Optional[str] = None
    read = 0

    def flush() -> None:
        if not batch:
            return
        pixels = np.stack([clip.spec.to_pixels(m.image) for m in batch])
        vectors = cache.call_with_oom_retry(lambda: clip.encode_pixels(pixels), "encode video frames")
        library.store.record_moments(model, row.hash, [(m.time, v) for m, v in zip(batch, vectors)])
        tally.moments += len(batch)
        batch.clear()
        job.checkpoint()

    stop = threading.Event()
    waited_from = time.perf_counter()
    for item in _read_ahead(sample_moments(path, min_side), stop):
        tally.waited += time.perf_counter() - waited_from
        if isinstance(item, DecodeError):
            broken = str(item)
            break
        read += 1
        if library.thumbnails is not None:
            try:
                if read == 1:
                    save_thumbnail(library.thumbnails, row.hash, item.image)
                save_thumbnail(library.thumbnails, moment_key(row.hash, item.time), item.image)
            except OSError as exc:  # a full disk must not stop indexing
                log.warning("cannot write thumbnail for %s: %s", row.path, exc)
        if item.time not in stored:
            batch.append(item)
            if len(batch) >= batch_size:
                flush()
        waited_from = time.perf_counter()
    flush()
    moments = library.store.moments_of(model, row.hash)
    if not moments:
        return broken or "no picture could be read from the video"
    if broken:  # a truncated video: the moments before the break still find it
        log.warning("%s: indexed up to %.1f s: %s", row.path, max(moments), broken)
    mean = np.mean(np.stack(list(moments.values())), axis=0)
    mean /= max(float(np.linalg.norm(mean)), 1e-12)
    decoded = DecodedInfo(info.width, info.height, info.taken, VIDEO_FORMAT, info.duration, info.codec)
    library.store.record_batch(model, [(row, decoded, mean.astype(np.float32))], [])
    tally.videos += 1
    tally.seconds_of_video += info.duration
    return None


def encode_videos(
    job: "JobContext", library: "Library", clip: PictureEncoder, cache, model: str, rows: Sequence[ImageRow],
    batch_size: int, done: int, total: int,
) -> tuple[VideoTally, list[tuple[str, str]]]:
    """Every video of `rows`, one after another; (what was done, (path, reason) of those skipped)."""
    tally = VideoTally()
    skipped: list[tuple[str, str]] = []
    for number, row in enumerate(rows, 1):
        job.progress(done, total, f"video {number} of {len(rows)}: {Path(row.path).name}")
        reason = encode_video(job, library, clip, cache, model, row, batch_size, tally)
        if reason is not None:
            library.store.record_batch(model, [], [(row, reason)])
            skipped.append((row.path, reason))
        done += 1
        job.checkpoint()
    return tally, skipped
