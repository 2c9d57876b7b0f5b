"""Keep models resident between jobs under a memory budget.

`with cache.use(key, loader) as model:` loads once and keeps the model while it fits.
Least-recently-used unlocked models are evicted first (on a GPU: moved to host memory
while that has room, then dropped); models idle for too long are unloaded; an
out-of-memory error while loading evicts everything unlocked and retries once.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, TypeVar

from .device import DeviceInfo, default_memory_budget, system_memory_bytes

log = logging.getLogger(__name__)

T = TypeVar("T")

Mover = Callable[[Any, str], Any]  # (model, "host" | "device") -> model on that tier


class ModelMemoryError(RuntimeError):
    """Out of memory even after evicting every other model: the message says what to change."""


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def estimate_size(model: Any) -> int:
    """Bytes held by a torch module, a pipeline's components, or anything with `nbytes`."""
    if hasattr(model, "parameters") and callable(model.parameters):
        total = 0
        tensors = list(model.parameters())
        if hasattr(model, "buffers") and callable(model.buffers):
            tensors += list(model.buffers())
        for tensor in tensors:
            total += tensor.numel() * tensor.element_size()
        return total
    components = getattr(model, "components", None)
    if isinstance(components, dict):
        return sum(estimate_size(c) for c in components.values() if c is not None)
    nbytes = getattr(model, "nbytes", None)
    return int(nbytes) if isinstance(nbytes, int) else 0


def default_mover(model: Any, tier: str, device: str) -> Any:
    if hasattr(model, "to"):
        moved = model.to("cpu" if tier == "host" else device)
        return model if moved is None else moved
    return model


@dataclass
class CacheEntry:
    key: str
    model: Any
    size: int
    last_used: float
    locks: int = 0
    tier: str = "device"  # "device" or "host" (moved off the GPU, not yet dropped)


@dataclass(frozen=True)
class EntryInfo:
    key: str
    size: int
    tier: str
    locked: bool
    idle_s: float


class ModelCache:
    def __init__(
        self,
        budget_bytes: int,
        idle_unload_s: float = 600.0,
        host_budget_bytes: int = 0,
        device: str = "cpu",
        size_of: Callable[[Any], int] = estimate_size,
        mover: Optional[Mover] = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.budget_bytes = budget_bytes
        self.idle_unload_s = idle_unload_s
        self.host_budget_bytes = host_budget_bytes if device != "cpu" else 0
        self._device = device
        self._size_of = size_of
        self._mover = mover or (lambda model, tier: default_mover(model, tier, device))
        self._clock = clock
        self._entries: dict[str, CacheEntry] = {}
        self._lock = threading.RLock()

    @classmethod
    def for_device(
        cls, device: DeviceInfo, budget_bytes: int = 0, idle_unload_s: float = 600.0
    ) -> "ModelCache":
        budget = budget_bytes or default_memory_budget(device)
        host = int((system_memory_bytes() or 0) * 0.5) if device.is_gpu else 0
        return cls(budget, idle_unload_s, host_budget_bytes=host, device=device.kind)

    # -- use -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def use(self, key: str, loader: Callable[[], T], size_hint: Optional[int] = None) -> Iterator[T]:
        """Yield the model for `key`, loading it with `loader()` when not resident.

        While inside the block the model is locked: it is never evicted.
        """
        entry = self._acquire(key, loader, size_hint)
        try:
            yield entry.model
        finally:
            with self._lock:
                entry.locks -= 1
                entry.last_used = self._clock()

    def _acquire(self, key: str, loader: Callable[[], Any], size_hint: Optional[int]) -> CacheEntry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.locks += 1
                entry.last_used = self._clock()
        if entry is not None:
            if entry.tier == "host":
                entry.tier = "moving"  # counts against neither tier while room is made
                self._make_room(entry.size, exclude=key)
                entry.model = self._mover(entry.model, "device")
                entry.tier = "device"
            return entry
        if size_hint:
            self._make_room(size_hint)
        model = self.call_with_oom_retry(loader, what=f"load {key}")
        size = self._size_of(model)
        entry = CacheEntry(key, model, size, self._clock(), locks=1)
        with self._lock:
            self._entries[key] = entry
        _settle_heap()
        self._make_room(0)
        return entry

    def call_with_oom_retry(self, fn: Callable[[], T], what: str = "run") -> T:
        """Run fn; on out-of-memory evict every unlocked model and retry once."""
        try:
            return fn()
        except BaseException as exc:
            if not is_out_of_memory(exc):
                raise
            log.warning("out of memory during %s; evicting unlocked models and retrying", what)
        self.evict_unlocked()
        try:
            return fn()
        except BaseException as exc:
            if not is_out_of_memory(exc):
                raise
            raise ModelMemoryError(
                f"Not enough memory to {what} even after unloading other models "
                f"(budget {self.budget_bytes / 2**30:.1f} GiB). Close other programs using the GPU, "
                "choose a smaller size or model, or lower the memory budget in Settings "
                "so models are offloaded sooner."
            ) from exc

    # -- eviction ------------------------------------------------------------------------

    def locked_bytes(self) -> int:
        """Bytes of the models in use right now (never evictable)."""
        with self._lock:
            return sum(e.size for e in self._entries.values() if e.locks and e.tier == "device")

    def _resident_bytes(self, tier: str = "device") -> int:
        return sum(e.size for e in self._entries.values() if e.tier == tier)

    def _make_room(self, needed: int, exclude: Optional[str] = None) -> None:
        """Evict LRU unlocked models until resident + needed fits the budget."""
        while True:
            with self._lock:
                if self._resident_bytes() + needed <= self.budget_bytes:
                    return
                candidates = [
                    e
                    for e in self._entries.values()
                    if e.locks == 0 and e.tier == "device" and e.key != exclude
                ]
                if not candidates:
                    if self._resident_bytes() + needed > self.budget_bytes:
                        log.warning(
                            "models need %.2f GiB over a %.2f GiB budget; nothing left to evict",
                            (self._resident_bytes() + needed) / 2**30,
                            self.budget_bytes / 2**30,
                        )
                    return
                victim = min(candidates, key=lambda e: e.last_used)
            self._demote(victim)

    def _demote(self, entry: CacheEntry) -> None:
        """GPU → host memory while the host budget has room, else drop."""
        with self._lock:
            fits_host = self._resident_bytes("host") + entry.size <= self.host_budget_bytes
        if entry.tier == "device" and fits_host:
            log.info("moving model %s to host memory", entry.key)
            entry.model = self._mover(entry.model, "host")
            entry.tier = "host"
            with self._lock:
                self._trim_host()
            return
        self._drop(entry.key)

    def _trim_host(self) -> None:
        while self._resident_bytes("host") > self.host_budget_bytes:
            hosts = [e for e in self._entries.values() if e.tier == "host" and e.locks == 0]
            if not hosts:
                return
            self._drop(min(hosts, key=lambda e: e.last_used).key)

    def _drop(self, key: str, release: bool = True) -> None:
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is None:
            return
        log.info("unloading model %s (%.1f MiB)", key, entry.size / 2**20)
        entry.model = None
        if release:
            _release_memory()

    def evict_unlocked(self) -> None:
        with self._lock:
            keys = [k for k, e in self._entries.items() if e.locks == 0]
        for key in keys:
            self._drop(key)

    def unload_idle(self) -> list[str]:
        if self.idle_unload_s <= 0:
            return []
        now = self._clock()
        with self._lock:
            idle = [
                k
                for k, e in self._entries.items()
                if e.locks == 0 and now - e.last_used >= self.idle_unload_s
            ]
        for key in idle:
            self._drop(key)
        return idle

    def clear(self) -> None:
        """Drop every unlocked model, as the engine stops. No collector pass here: each scans the
        whole heap (~0.3 s with torch loaded, per model), which made every quit overrun the
        engine's 0.5 s join and log an error. Reference counting frees the weights; unfreezing
        leaves any cycles to the collector's normal course."""
        with self._lock:
            keys = [k for k, e in self._entries.items() if e.locks == 0]
        for key in keys:
            self._drop(key, release=False)
        gc.unfreeze()

    # -- inspection ----------------------------------------------------------------------

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._entries

    def entries(self) -> list[EntryInfo]:
        now = self._clock()
        with self._lock:
            return [
                EntryInfo(e.key, e.size, e.tier, e.locks > 0, now - e.last_used)
                for e in sorted(self._entries.values(), key=lambda e: e.last_used)
            ]

    @property
    def resident_bytes(self) -> int:
        with self._lock:
            return self._resident_bytes()


def _settle_heap() -> None:
    """Leave what is loaded now (models and the libraries behind them: millions of objects) out
    of the cyclic collector's full passes, which hold the GIL, and so stall the window, for about
    0.3 s each on such a heap."""
    gc.freeze()


def _release_memory() -> None:
    gc.unfreeze()  # a dropped model's cycles are collectable again
    gc.collect()
    gc.freeze()
    # getattr: torch may still be half imported by device detection on another thread.
    cuda = getattr(sys.modules.get("torch"), "cuda", None)
    if cuda is not None and cuda.is_available():
        cuda.empty_cache()
