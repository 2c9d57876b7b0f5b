"""Jobs, their handles and the context a running job talks to the engine through.

Qt-free: events are plain callbacks, called on the engine thread (or on the thread that
cancels a job still waiting in the queue). The UI re-emits them as Qt signals.
"""

from __future__ import annotations

import enum
import itertools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from .listeners import Listeners

if TYPE_CHECKING:
    from .device import DeviceInfo
    from .engine import Engine
    from .events import EventHub
    from .residency import ModelCache


class Priority(enum.IntEnum):
    """Lower runs first. A waiting job of lower value preempts a running one at its checkpoint."""

    INTERACTIVE = 0
    FOREGROUND = 1
    BACKGROUND = 2


class Cancelled(BaseException):
    """Raised inside a job at a checkpoint once it is cancelled.

    A BaseException (like asyncio.CancelledError) so that `except Exception` in job code,
    e.g. around decoding one bad file, never swallows a cancel.
    """


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def done(self) -> bool:
        return self in (JobState.FINISHED, JobState.FAILED, JobState.CANCELLED)


class EventKind(enum.Enum):
    QUEUED = "queued"
    STARTED = "started"
    PROGRESS = "progress"
    PREVIEW = "preview"  # an intermediate image or other picture of the work so far
    PARTIAL = "partial"  # a piece of output, e.g. streamed tokens
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Engine-level events (no handle):
    DEVICE_READY = "device-ready"
    QUEUE_CHANGED = "queue-changed"

    @property
    def final(self) -> bool:
        """A job's last event: it finished, failed or was cancelled."""
        return self in (EventKind.FINISHED, EventKind.FAILED, EventKind.CANCELLED)


@dataclass(frozen=True)
class Progress:
    done: float
    total: Optional[float] = None
    message: str = ""

    @property
    def fraction(self) -> Optional[float]:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))


@dataclass(frozen=True)
class JobEvent:
    kind: EventKind
    handle: Optional["TrackedJob"] = None
    payload: Any = None


EventCallback = Callable[[JobEvent], None]
JobFunction = Callable[["JobContext"], Any]

_ids = itertools.count(1)


class TrackedJob:
    """State, outcome and listeners of a piece of queued work: the engine's jobs and downloads.

    Every event goes to the handle's own subscribers and to the one event hub. Subclasses give
    `id`, `name`, `kind`, `priority` and `cancel()`.
    """

    id: int
    name: str
    kind: str
    priority: Priority

    def __init__(self, hub: "EventHub") -> None:
        self.id = next(_ids)  # one count for every kind of tracked work: ids never collide
        self._hub = hub
        self._state = JobState.QUEUED
        self._done = threading.Event()
        self._finishing = threading.Lock()
        self._result: Any = None
        self._error: Optional[BaseException] = None
        self._listeners: Listeners[JobEvent] = Listeners()
        self.progress: Optional[Progress] = None

    @property
    def state(self) -> JobState:
        return self._state

    @property
    def error(self) -> Optional[BaseException]:
        return self._error

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Whether the job ended within `timeout` (None: wait for the end). An endless wait wakes
        every 0.1 s: the kernel may hand a Ctrl-C to any thread (onnxruntime's, Ray's), and a main
        thread blocked in one long wait would see it only when the job ended."""
        if timeout is not None:
            return self._done.wait(timeout)
        while not self._done.wait(0.1):
            pass
        return True

    def result(self, timeout: Optional[float] = None) -> Any:
        """The return value; raises the job's exception, Cancelled, or TimeoutError."""
        if not self.wait(timeout):
            raise TimeoutError(f"{self.name!r} did not finish within {timeout} s")
        if self._error is not None:
            raise self._error
        if self._state is JobState.CANCELLED:
            raise Cancelled(f"{self.name!r} was cancelled")
        return self._result

    def cancel(self) -> None:
        raise NotImplementedError

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        return self._listeners.add(callback)

    # -- runner side ---------------------------------------------------------------------

    def _emit(self, kind: EventKind, payload: Any = None) -> None:
        event = JobEvent(kind, self, payload)
        self._listeners.emit(event)
        self._hub.emit(event)

    def _set_state(self, state: JobState) -> None:
        self._state = state

    def _finish(self, state: JobState, result: Any = None, error: Optional[BaseException] = None) -> bool:
        """End the job once: its final event is delivered before `done()` and `result()` report it.

        False when it had already ended (a cancel racing the job's own end)."""
        with self._finishing:
            if self._state.done:
                return False
            self._result, self._error = result, error
            self._state = state
        kind = {JobState.FINISHED: EventKind.FINISHED, JobState.CANCELLED: EventKind.CANCELLED}.get(
            state, EventKind.FAILED
        )
        self._emit(kind, result if state is JobState.FINISHED else error)
        self._done.set()
        return True


class JobHandle(TrackedJob):
    """Future-like view of a submitted engine job: result, cancel, state and event subscription."""

    def __init__(self, engine: "Engine", fn: JobFunction, priority: Priority, name: str, kind: str):
        super().__init__(engine.hub)
        self.name = name
        self.kind = kind
        self.priority = Priority(priority)
        self._fn = fn
        self._engine = engine
        self._cancel_requested = threading.Event()
        self.memory_bytes = 0  # resident model memory it needs, when known
        self.waiting_reason = ""  # why it waits although it could take a turn

    def __repr__(self) -> str:
        return f"<JobHandle #{self.id} {self.name!r} {self._state.value}>"

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested.is_set()

    def cancel(self) -> None:
        """Cancel: a queued job never starts; a running one stops at its next checkpoint."""
        self._cancel_requested.set()
        self._engine._cancel(self)


class JobContext:
    """What a running job sees: checkpoints, progress and output events, the device and models."""

    def __init__(self, engine: "Engine", handle: JobHandle):
        self._engine = engine
        self.handle = handle

    @property
    def cancelled(self) -> bool:
        return self.handle.cancel_requested

    @property
    def cancel_event(self) -> threading.Event:
        """Set when the job is cancelled: for stopping criteria and step callbacks."""
        return self.handle._cancel_requested

    @property
    def device(self) -> "DeviceInfo":
        """The device; while another thread detects it (importing torch), this job waits at
        checkpoints, so a search typed meanwhile still answers at once."""
        engine = self._engine
        while engine.detecting_device:
            self.checkpoint()
            engine.wait_for_device(0.05)
        return engine.device

    @property
    def surely_cpu(self) -> bool:
        """The job runs on the CPU, known without detecting the device (see `Engine.surely_cpu`)."""
        return self._engine.surely_cpu

    @property
    def models(self) -> "ModelCache":
        return self._engine.models

    @property
    def cpu_models(self) -> "ModelCache":
        """Models that run on the CPU whatever the device; using them detects no device."""
        return self._engine.cpu_models

    def checkpoint(self, settle: Optional[Callable[[], None]] = None) -> None:
        """Raise Cancelled if cancelled; otherwise run any waiting higher-priority job here.
        `settle` (it must not raise) is called before such a job runs: it waits for this job's
        work still running on other threads, so the job that preempts has the processor."""
        if self.cancelled:
            raise Cancelled(f"job {self.handle.name!r} was cancelled")
        self._engine._run_preempting(self.handle, settle)
        if self.cancelled:
            raise Cancelled(f"job {self.handle.name!r} was cancelled")

    def progress(self, done: float, total: Optional[float] = None, message: str = "") -> None:
        self.handle.progress = Progress(done, total, message)
        self.handle._emit(EventKind.PROGRESS, self.handle.progress)

    def preview(self, payload: Any) -> None:
        self.handle._emit(EventKind.PREVIEW, payload)

    def partial(self, payload: Any) -> None:
        self.handle._emit(EventKind.PARTIAL, payload)
