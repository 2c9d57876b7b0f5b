"""Videos through FFmpeg (PyAV): what a video is (size, length, codec, date) and the moments that
stand for it — frames at scene changes plus at least one every few seconds, capped per video.

Only keyframes are decoded: a short video's keyframes are read in order (their differences find
the scene changes), a long one is visited by seeking to evenly spaced keyframes, so a 60-minute
4K film costs about as many decoded frames as a 3-minute clip. Every failure is a DecodeError
whose message is the reason the library records.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
from PIL import Image

from .decoded import MAX_PIXELS, DecodeError

MOMENT_EVERY = 4.0  # seconds: at least one moment this often …
MAX_MOMENTS = 48  # … up to this many per video; a longer video spaces them out evenly
SCENE_CHANGE = 30.0  # mean difference (0–255) of two keyframes' 16×16 colour prints: a new scene
READ_IN_ORDER_BYTES = 400 * 1024 * 1024  # larger files are seeked through, never read end to end


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as shown (rotation applied)
    height: int
    duration: float  # seconds
    codec: str
    taken: Optional[float]  # creation time the container records (POSIX seconds)


@dataclass(frozen=True)
class Moment:
    time: float  # seconds from the start
    image: Image.Image  # RGB, upright, shorter side at least the asked size (or the video's)


@contextlib.contextmanager
def _opened(path: Path):
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise DecodeError("no video stream (an audio file?)")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            yield container, stream
    except DecodeError:
        raise
    except FileNotFoundError:
        raise DecodeError("file disappeared or is a broken link") from None
    except PermissionError:
        raise DecodeError("permission denied") from None
    except av.FFmpegError as exc:
        raise DecodeError(f"cannot read video (FFmpeg: {exc})") from None


def _creation_time(container) -> Optional[float]:
    text = container.metadata.get("creation_time") or container.streams.video[0].metadata.get("creation_time")
    if not text:
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp() if stamp.year > 1970 else None


def _duration(container, stream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return 0.0


def _upright(frame, min_side: int) -> Image.Image:
    """A decoded frame as an upright RGB picture, scaled down to `min_side` on its shorter side."""
    width, height = frame.width, frame.height
    scale = min(1.0, min_side / min(width, height)) if min_side else 1.0
    picture = frame.to_image(width=max(1, round(width * scale)), height=max(1, round(height * scale)))
    rotation = frame.rotation  # counter-clockwise degrees the display matrix turns the frame
    return picture.rotate(rotation, expand=True) if rotation % 360 else picture


def probe_video(path: Path) -> VideoInfo:
    """What a video is, from its header and its first keyframe (phones record portrait videos
    sideways and say so in the frames' display matrix)."""
    import av

    with _opened(path) as (container, stream):
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise DecodeError("video has no picture size (a damaged header?)")
        if width * height > MAX_PIXELS:
            raise DecodeError(f"too many pixels ({width}×{height})")
        stream.codec_context.skip_frame = "NONKEY"
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as exc:
            raise DecodeError(f"damaged video: its first picture cannot be decoded (FFmpeg: {exc})") from None
        if first is None:
            raise DecodeError("the video holds no picture")
        if first.rotation % 180:
            width, height = height, width
        return VideoInfo(width, height, _duration(container, stream), stream.codec_context.name,
                         _creation_time(container))


def _print(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.resize((16, 16), Image.Resampling.BILINEAR), dtype=np.float32)


def sample_moments(path: Path, min_side: int) -> Iterator[Moment]:
    """The moments of a video, in time order: scene changes and at least one every MOMENT_EVERY
    seconds (spaced wider for long videos), at most MAX_MOMENTS. A video that breaks part-way
    raises DecodeError after the moments read before the break."""
    import av

    with _opened(path) as (container, stream):
        duration = _duration(container, stream)
        every = max(MOMENT_EVERY, duration / MAX_MOMENTS)
        stream.codec_context.skip_frame = "NONKEY"
        try:
            if duration > MAX_MOMENTS * MOMENT_EVERY or Path(path).stat().st_size > READ_IN_ORDER_BYTES:
                yield from _seeked(container, stream, duration, every, min_side)
            else:
                yield from _in_order(container, stream, every, min_side)
        except av.FFmpegError as exc:
            raise DecodeError(f"damaged or truncated video (FFmpeg: {exc})") from None


def _in_order(container, stream, every: float, min_side: int) -> Iterator[Moment]:
    kept: Optional[tuple[float, np.ndarray]] = None
    count = 0
    for frame in container.decode(stream):
        if frame.time is None:
            continue
        picture = _upright(frame, min_side)
        mark = _print(picture)
        due = kept is None or frame.time - kept[0] >= every
        # A new scene counts once the last moment is a quarter of the spacing behind: a flickering
        # clip must not spend the whole allowance in its first seconds.
        cut = kept is not None and frame.time - kept[0] >= every / 4 and float(np.abs(mark - kept[1]).mean()) > SCENE_CHANGE
        if due or cut:
            kept = (float(frame.time), mark)
            yield Moment(float(frame.time), picture)
            count += 1
            if count >= MAX_MOMENTS:
                return


def _seeked(container, stream, duration: float, every: float, min_side: int) -> Iterator[Moment]:
    last: Optional[float] = None
    target = every / 2
    while target < duration:
        container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
        frame = next((f for f in container.decode(stream) if f.time is not None), None)
        if frame is None:
            return
        if last is None or frame.time > last:  # sparse keyframes: two targets may land on one
            last = float(frame.time)
            yield Moment(last, _upright(frame, min_side))
        target += every
