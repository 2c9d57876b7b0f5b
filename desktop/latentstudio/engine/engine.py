"""The one inference thread: it owns the device and runs every model job from a priority queue."""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any, Callable, Optional

from .device import DeviceInfo, detect_device, gpu_possible, system_memory_bytes
from .jobs import (
    Cancelled,
    EventCallback,
    EventKind,
    JobContext,
    JobEvent,
    JobFunction,
    JobHandle,
    JobState,
    Priority,
    Progress,
)
from .events import EventHub
from .residency import ModelCache

log = logging.getLogger(__name__)

THREAD_NAME = "latent-inference"
DETECT_AFTER_S = 15.0  # background device detection waits at most this long for interactive work


class Engine:
    """Owns the inference thread. Jobs are `fn(ctx)` callables submitted with a priority.

    The device is detected (importing torch) when first asked for — by a job that needs it, or
    on a helper thread through `detect_device_in_background` — unless one is given, so jobs that
    need no torch (a text query on the onnxruntime text tower) never wait for it. `models` keeps
    models resident between jobs; `cpu_models` those that always run on the CPU, whatever the device.
    """

    def __init__(
        self,
        device: Optional[DeviceInfo] = None,
        models: Optional[ModelCache] = None,
        device_preference: str = "auto",
        idle_tick_s: float = 5.0,
        models_factory: Optional[Callable[[DeviceInfo], ModelCache]] = None,
        hub: Optional[EventHub] = None,
    ):
        self.hub = hub or EventHub()
        self._device = device
        self._device_preference = device_preference
        self._device_ready = threading.Event()
        self._device_lock = threading.Lock()
        if device is not None:
            self._device_ready.set()
        self._models = models
        self._cpu_models: Optional[ModelCache] = None
        self._models_factory = models_factory
        self._idle_tick_s = idle_tick_s
        self._cond = threading.Condition()
        self._queue: list[tuple[int, int, JobHandle]] = []  # (priority, order, handle)
        self._order = itertools.count()
        self._running: list[JobHandle] = []  # stack: nested while a job runs others in place
        self._stopping = False
        self._release_models = True
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> "Engine":
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
            self._thread.start()
        return self

    def shutdown(self, timeout: Optional[float] = 30.0, release_models: bool = True) -> None:
        """Cancel queued jobs, ask running ones to stop, release models (unless the process ends
        right after: freeing a loaded text tower took a cold search 50 ms) and join the thread."""
        with self._cond:
            self._stopping = True
            self._release_models = release_models
            queued = [entry[2] for entry in self._queue]
            self._queue.clear()
            running = list(self._running)
            self._cond.notify_all()
        for handle in queued:
            handle._cancel_requested.set()
            self._finish_cancelled(handle)
        for handle in running:
            handle._cancel_requested.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("inference thread did not stop within %s s", timeout)
        elif self._thread is None and self._models is not None and release_models:
            self._models.clear()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "Engine":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- public API ----------------------------------------------------------------------

    @property
    def device(self) -> DeviceInfo:
        """The device jobs run on; detected now (importing torch) if nobody asked before, and
        waited for while another thread detects it. Not for the GUI thread."""
        if not self._device_ready.is_set():
            with self._device_lock:
                if self._device is None:
                    self._device = self._detect()
                    self._device_ready.set()
                    self._broadcast(JobEvent(EventKind.DEVICE_READY, None, self._device))
        assert self._device is not None
        return self._device

    def _detect(self) -> DeviceInfo:
        try:
            return detect_device(self._device_preference)
        except Exception as exc:  # torch missing or broken: still run CPU-only work
            log.exception("device detection failed")
            return DeviceInfo.cpu(f"device detection failed: {exc}")

    def detect_device_in_background(self) -> None:
        """Detect the device on a helper thread (the window calls this after its first paint), once
        no INTERACTIVE job waits or runs: importing torch holds the GIL for seconds, and a first
        search should not share them. Jobs that need the device meanwhile wait at checkpoints."""
        if self._device_ready.is_set():
            return

        def detect() -> None:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or not self._interactive_work(), DETECT_AFTER_S)
                if self._stopping:
                    return
            self.device

        threading.Thread(target=detect, name="latent-device", daemon=True).start()

    def _interactive_work(self) -> bool:
        """Whether an INTERACTIVE job waits or runs; caller holds the lock."""
        return any(e[0] == Priority.INTERACTIVE for e in self._queue) or any(
            h.priority is Priority.INTERACTIVE for h in self._running)

    @property
    def detecting_device(self) -> bool:
        """Another thread is detecting the device right now."""
        return not self._device_ready.is_set() and self._device_lock.locked()

    def wait_for_device(self, timeout: float) -> bool:
        return self._device_ready.wait(timeout)

    @property
    def device_if_ready(self) -> Optional[DeviceInfo]:
        return self._device if self._device_ready.is_set() else None

    @property
    def surely_cpu(self) -> bool:
        """Jobs run on the CPU, and that is known without detecting the device (importing torch)."""
        device = self.device_if_ready
        if device is not None:
            return not device.is_gpu
        return gpu_possible(self._device_preference) is None

    @property
    def models(self) -> ModelCache:
        if self._models is None:
            device = self.device
            factory = self._models_factory or ModelCache.for_device
            self._models = factory(device)
        return self._models

    @property
    def cpu_models(self) -> ModelCache:
        """Models that run on the CPU whatever the device (the onnxruntime towers): a cache that
        needs no device detection, with a quarter of the RAM as its budget."""
        if self._cpu_models is None:
            self._cpu_models = ModelCache(int((system_memory_bytes() or 8 * 2**30) * 0.25))
        return self._cpu_models

    @property
    def models_if_ready(self) -> Optional[ModelCache]:
        """The model cache if it exists yet (it is made on first use, after device detection)."""
        return self._models

    def submit(
        self,
        fn: JobFunction,
        priority: Priority = Priority.FOREGROUND,
        name: str = "job",
        kind: str = "job",
        on_event: Optional[EventCallback] = None,
        memory_bytes: int = 0,
    ) -> JobHandle:
        """Queue `fn(ctx)`. `memory_bytes`: what its model needs resident (0: unknown), so it only
        takes a turn beside another running job when both fit the memory budget."""
        handle = JobHandle(self, fn, priority, name, kind)
        handle.memory_bytes = memory_bytes
        if on_event is not None:
            handle.subscribe(on_event)
        with self._cond:
            if self._stopping:
                raise RuntimeError("the engine is shutting down")
            self._queue.append((int(priority), next(self._order), handle))
            handle._emit(EventKind.QUEUED)  # under the lock, so it always precedes STARTED
            self._cond.notify_all()
        self._queue_changed()
        return handle

    def add_listener(self, callback: EventCallback) -> Callable[[], None]:
        """Receive every job event and the engine-level events (device ready, queue changed)."""
        return self.hub.add_listener(callback)

    def queued(self) -> list[JobHandle]:
        """Waiting jobs in the order they will run."""
        with self._cond:
            return [entry[2] for entry in sorted(self._queue)]

    def active(self) -> list[JobHandle]:
        """Running jobs, outermost first (more than one while a job runs another in place)."""
        with self._cond:
            return list(self._running)

    def move(self, handle: JobHandle, offset: int) -> bool:
        """Move a queued job `offset` places among the waiting jobs of its own priority."""
        with self._cond:
            same = sorted(e for e in self._queue if e[0] == int(handle.priority))
            index = next((i for i, e in enumerate(same) if e[2] is handle), None)
            if index is None:
                return False
            target = max(0, min(len(same) - 1, index + offset))
            if target == index:
                return False
            reordered = same[:index] + same[index + 1 :]
            reordered.insert(target, same[index])
            orders = sorted(e[1] for e in same)
            renumbered = {id(e[2]): (e[0], order, e[2]) for e, order in zip(reordered, orders)}
            self._queue = [renumbered.get(id(e[2]), e) for e in self._queue]
        self._queue_changed()
        return True

    # -- engine thread -------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    if not self._cond.wait(self._idle_tick_s):
                        break
                if self._stopping and not self._queue:
                    break
                handle = self._pop(lambda priority: True)
            if handle is None:
                self._idle_housekeeping()
                continue
            self._execute(handle)
        for cache in (self._models, self._cpu_models):
            if cache is not None and self._release_models:
                cache.clear()

    def _pop(self, accept: Callable[[int], bool]) -> Optional[JobHandle]:
        """Take the most urgent waiting job if `accept(priority)`; caller holds the lock."""
        if not self._queue:
            return None
        entry = min(self._queue)
        if not accept(entry[0]):
            return None
        self._queue.remove(entry)
        return entry[2]

    def _run_preempting(self, current: JobHandle, settle: Optional[Callable[[], None]] = None) -> None:
        """Run, in place, every waiting job more urgent than `current`; then give a turn to a
        waiting job of the same priority and another kind (a code generation while an image
        renders), which runs to its end before `current` goes on. `settle` is called once before
        the first of them runs."""
        while True:
            with self._cond:
                handle = self._pop(lambda waiting: waiting < int(current.priority))
                if handle is None:
                    handle = self._pop_turn(current)
            if handle is None:
                return
            if settle is not None:
                settle()
                settle = None
            self._execute(handle)

    def _pop_turn(self, current: JobHandle) -> Optional[JobHandle]:
        """The first waiting job of `current`'s priority whose kind is not running yet and whose
        model fits the memory budget beside the models in use; caller holds the lock."""
        running_kinds = {h.kind for h in self._running}
        for entry in sorted(self._queue):
            handle = entry[2]
            if entry[0] != int(current.priority) or handle.kind in running_kinds:
                continue
            if not self._fits_beside_running(handle):
                if not handle.waiting_reason:
                    handle.waiting_reason = f"waiting for {current.name} to finish: both models do not fit in memory"
                    handle._emit(EventKind.PROGRESS, Progress(0, None, handle.waiting_reason))
                continue
            self._queue.remove(entry)
            return handle
        return None

    def _fits_beside_running(self, handle: JobHandle) -> bool:
        models = self._models
        if models is None or not handle.memory_bytes:
            return True
        return models.locked_bytes() + handle.memory_bytes <= models.budget_bytes

    def _execute(self, handle: JobHandle) -> None:
        if handle.cancel_requested:
            self._finish_cancelled(handle)
            return
        with self._cond:
            self._running.append(handle)
        handle._set_state(JobState.RUNNING)
        handle._emit(EventKind.STARTED)
        self._queue_changed()
        ctx = JobContext(self, handle)
        try:
            result = handle._fn(ctx)
        except Cancelled:
            self._finish_cancelled(handle)
        except Exception as exc:
            log.exception("job %r failed", handle.name)
            handle._finish(JobState.FAILED, error=exc)
        else:
            handle._finish(JobState.FINISHED, result=result)
        finally:
            with self._cond:
                if handle in self._running:
                    self._running.remove(handle)
                self._cond.notify_all()  # device detection may be waiting for interactive work to end
            self._queue_changed()

    def _idle_housekeeping(self) -> None:
        for cache in (self._models, self._cpu_models):
            if cache is not None:
                try:
                    cache.unload_idle()
                except Exception:
                    log.exception("idle unload failed")

    # -- shared helpers ------------------------------------------------------------------

    def _cancel(self, handle: JobHandle) -> None:
        with self._cond:
            entry = next((e for e in self._queue if e[2] is handle), None)
            if entry is not None:
                self._queue.remove(entry)
        if entry is not None:
            self._finish_cancelled(handle)
            self._queue_changed()

    def _finish_cancelled(self, handle: JobHandle) -> None:
        handle._finish(JobState.CANCELLED)

    def _queue_changed(self) -> None:
        self._broadcast(JobEvent(EventKind.QUEUE_CHANGED, None, None))

    def _broadcast(self, event: JobEvent) -> None:
        self.hub.emit(event)

    def run_sync(self, fn: JobFunction, priority: Priority = Priority.FOREGROUND, name: str = "job") -> Any:
        """Submit and wait: for the CLI and scripts."""
        return self.submit(fn, priority, name).result()
