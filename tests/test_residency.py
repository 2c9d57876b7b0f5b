"""ModelCache: budget, LRU eviction of unlocked models, idle unload, out-of-memory retry."""

from __future__ import annotations

import pytest

from latentstudio.engine.residency import ModelCache, ModelMemoryError, estimate_size


class Weights:
    def __init__(self, name: str, nbytes: int):
        self.name = name
        self.nbytes = nbytes


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def loader(name: str, size: int, calls: list[str]):
    def load() -> Weights:
        calls.append(name)
        return Weights(name, size)

    return load


def test_loads_once_and_keeps_resident() -> None:
    cache = ModelCache(budget_bytes=100)
    calls: list[str] = []
    with cache.use("a", loader("a", 10, calls)) as first:
        pass
    with cache.use("a", loader("a", 10, calls)) as second:
        pass
    assert first is second
    assert calls == ["a"]
    assert cache.resident_bytes == 10


def test_evicts_least_recently_used_unlocked() -> None:
    cache = ModelCache(budget_bytes=100, clock=Clock())
    calls: list[str] = []
    for name in ("a", "b"):
        with cache.use(name, loader(name, 40, calls)):
            pass
    with cache.use("a", loader("a", 40, calls)):  # a is now more recent than b
        pass
    with cache.use("c", loader("c", 40, calls)):
        pass
    assert "b" not in cache
    assert "a" in cache and "c" in cache
    assert cache.resident_bytes == 80


def test_never_evicts_a_locked_model() -> None:
    cache = ModelCache(budget_bytes=100, clock=Clock())
    calls: list[str] = []
    with cache.use("big", loader("big", 70, calls)) as big:
        with cache.use("other", loader("other", 70, calls)):
            assert "big" in cache  # in use: kept even though over budget
        assert big.name == "big"
    # once unlocked, the least recently used goes on the next load
    with cache.use("third", loader("third", 70, calls)):
        pass
    assert "big" not in cache and "other" not in cache


def test_size_hint_makes_room_before_loading() -> None:
    cache = ModelCache(budget_bytes=100, clock=Clock())
    calls: list[str] = []
    with cache.use("a", loader("a", 60, calls)):
        pass
    with cache.use("b", loader("b", 60, calls), size_hint=60):
        pass
    assert "a" not in cache


def test_idle_unload() -> None:
    clock = Clock()
    cache = ModelCache(budget_bytes=100, idle_unload_s=5, clock=clock)
    with cache.use("a", loader("a", 10, [])):
        pass
    assert cache.unload_idle() == []
    clock.now += 10
    assert cache.unload_idle() == ["a"]
    assert "a" not in cache


def test_out_of_memory_evicts_and_retries_once() -> None:
    cache = ModelCache(budget_bytes=1000, clock=Clock())
    with cache.use("resident", loader("resident", 10, [])):
        pass
    attempts: list[int] = []

    def flaky_load() -> Weights:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return Weights("new", 10)

    with cache.use("new", flaky_load) as model:
        assert model.name == "new"
    assert len(attempts) == 2
    assert "resident" not in cache  # evicted to make room for the retry


def test_out_of_memory_twice_gives_clear_error() -> None:
    cache = ModelCache(budget_bytes=1000)
    attempts: list[int] = []

    def always_oom() -> Weights:
        attempts.append(1)
        raise MemoryError()

    with pytest.raises(ModelMemoryError, match="memory budget in Settings"):
        with cache.use("x", always_oom):
            pass
    assert len(attempts) == 2
    assert "x" not in cache


def test_other_errors_are_not_retried() -> None:
    cache = ModelCache(budget_bytes=1000)
    attempts: list[int] = []

    def broken() -> Weights:
        attempts.append(1)
        raise ValueError("corrupt file")

    with pytest.raises(ValueError):
        with cache.use("x", broken):
            pass
    assert len(attempts) == 1


def test_gpu_eviction_moves_to_host_before_dropping() -> None:
    moves: list[tuple[str, str]] = []

    def mover(model: Weights, tier: str) -> Weights:
        moves.append((model.name, tier))
        return model

    cache = ModelCache(budget_bytes=100, host_budget_bytes=100, device="cuda", mover=mover, clock=Clock())
    for name in ("a", "b"):
        with cache.use(name, loader(name, 60, [])):
            pass
    assert moves == [("a", "host")]
    tiers = {e.key: e.tier for e in cache.entries()}
    assert tiers == {"a": "host", "b": "device"}
    with cache.use("a", loader("a", 60, [])):  # back to the device, b goes to host, a's old slot freed
        pass
    assert ("a", "device") in moves and ("b", "host") in moves


def test_estimate_size_of_torch_module() -> None:
    torch = pytest.importorskip("torch")
    module = torch.nn.Linear(10, 10)
    assert estimate_size(module) == (100 + 10) * 4


def test_an_idle_engine_stops_within_the_quit_wait(monkeypatch, caplog) -> None:
    """Quitting while models are resident: the engine stops within the window's 0.5 s, without
    a collector pass per model (one takes ~0.3 s on a heap with torch loaded)."""
    import logging
    import time

    from latentstudio.engine import DeviceInfo, Engine, Priority
    from latentstudio.engine import residency

    passes: list[float] = []
    monkeypatch.setattr(residency, "_release_memory", lambda: (passes.append(1), time.sleep(0.3)))
    engine = Engine(device=DeviceInfo.cpu("test"), idle_tick_s=0.05).start()
    for name in ("clip", "text-tower", "llm"):
        engine.submit(lambda job, n=name: _hold_briefly(job, n), Priority.INTERACTIVE, name=name).result(10)
    caplog.set_level(logging.ERROR)
    started = time.perf_counter()
    engine.shutdown(timeout=0.5)
    assert not engine.running and time.perf_counter() - started < 0.5
    assert not [r for r in caplog.records if "did not stop" in r.getMessage()]
    assert not passes


def _hold_briefly(job, name: str) -> None:
    with job.cpu_models.use(name, lambda: Weights(name, 10)):
        pass


def test_the_cpu_cache_follows_the_idle_unload_setting(ctx) -> None:
    """The text tower's cache (cpu_models) keeps models as long as the user chose, "Never" included:
    it had a fixed 10 minutes whatever the setting, so the tower was unloaded and reloaded again
    and again over a session."""
    ctx.settings.update(idle_unload_minutes=0)
    ctx.save_settings()
    assert ctx.engine.cpu_models.idle_unload_s == 0
    ctx.engine.submit(lambda job: _hold_briefly(job, "text-tower")).result(10)
    assert ctx.engine.cpu_models.unload_idle() == [] and "text-tower" in ctx.engine.cpu_models
    ctx.settings.update(idle_unload_minutes=30)
    ctx.save_settings()
    assert ctx.engine.cpu_models.idle_unload_s == 30 * 60
