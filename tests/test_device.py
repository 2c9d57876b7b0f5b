"""Device choice: CUDA, then MPS, then CPU; float16 on GPUs, float32 on the CPU; fallback reasons."""

from __future__ import annotations

import pytest

from latentstudio.engine.device import DeviceInfo, default_memory_budget, detect_device
from latentstudio.engine.residency import ModelCache


def test_cpu_uses_float32_and_reports_why() -> None:
    device = detect_device("cpu")
    assert device.kind == "cpu" and device.dtype_name == "float32"
    assert device.fallback_reason == "CPU chosen in Settings"
    assert "no GPU used: CPU chosen in Settings" in device.describe()


def test_auto_without_gpu_explains_the_fallback() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    device = detect_device("auto")
    assert device.kind in ("cpu", "mps")
    if device.kind == "cpu":
        assert device.fallback_reason
        assert "CUDA" in device.fallback_reason or "PyTorch" in device.fallback_reason


def test_asking_for_an_absent_gpu_says_so() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    device = detect_device("cuda")
    assert device.kind == "cpu"
    assert device.fallback_reason.startswith("CUDA chosen in Settings but unavailable")


def test_budget_is_half_the_ram_on_cpu() -> None:
    device = DeviceInfo("cpu", "test cpu", total_memory=16 * 2**30)
    assert default_memory_budget(device) == 8 * 2**30


@pytest.mark.gpu
def test_cuda_is_chosen_with_float16() -> None:
    device = detect_device("auto")
    assert device.kind == "cuda"
    assert device.dtype_name == "float16"
    assert device.fallback_reason is None
    assert device.total_memory and device.total_memory > 2**30


@pytest.mark.gpu
def test_cuda_eviction_moves_models_to_host_then_back() -> None:
    import torch

    device = detect_device("cuda")
    cache = ModelCache(budget_bytes=6 * 2**20, host_budget_bytes=64 * 2**20, device="cuda")

    def make() -> torch.nn.Module:
        return torch.nn.Linear(1024, 1024, dtype=device.torch_dtype).to(device.torch_device)  # 2 MiB + bias

    for name in ("a", "b", "c", "d"):
        with cache.use(name, make):
            pass
    tiers = {e.key: e.tier for e in cache.entries()}
    assert tiers["a"] == "host" and tiers["d"] == "device"
    with cache.use("a", make) as model:
        assert next(model.parameters()).device.type == "cuda"
    cache.clear()


def test_a_machine_surely_without_gpu_is_told_without_importing_torch() -> None:
    """The window's device detection imported torch (about 600 MB in an idle window) only to learn
    what the torch build and the missing driver had already said."""
    import subprocess
    import sys

    from latentstudio.engine.device import gpu_possible

    if gpu_possible("auto") is not None:
        pytest.skip("a GPU may be present here: only torch can tell")
    probe = ("import sys; from latentstudio.engine.device import detect_device; d = detect_device('auto'); "
             "print('torch' in sys.modules, d.kind, d.fallback_reason, sep='|')")
    imported, kind, reason = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                            check=True).stdout.strip().split("|")
    assert (imported, kind) == ("False", "cpu") and reason
