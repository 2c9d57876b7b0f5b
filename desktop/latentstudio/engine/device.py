"""Pick the device: CUDA, then MPS, then CPU, and say why when it falls back to the CPU.

float16 on GPUs; float32 on the CPU, where bf16/fp16 matrix work is many times slower
on processors without native support for it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..units import format_bytes


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cuda" | "mps" | "cpu"
    name: str
    total_memory: Optional[int] = None  # bytes of device memory (RAM for the CPU)
    fallback_reason: Optional[str] = None

    @classmethod
    def cpu(cls, reason: Optional[str] = None) -> "DeviceInfo":
        return cls("cpu", cpu_name(), system_memory_bytes(), reason)

    @property
    def is_gpu(self) -> bool:
        return self.kind in ("cuda", "mps")

    @property
    def dtype_name(self) -> str:
        return "float16" if self.is_gpu else "float32"

    @property
    def torch_device(self) -> Any:
        import torch

        return torch.device(self.kind)

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype_name)

    def describe(self) -> str:
        memory = f", {format_bytes(self.total_memory)}" if self.total_memory else ""
        text = f"{self.kind.upper()}: {self.name}{memory}, {self.dtype_name}"
        if self.fallback_reason:
            text += f" (no GPU used: {self.fallback_reason})"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "dtype": self.dtype_name,
            "total_memory": self.total_memory,
            "fallback_reason": self.fallback_reason,
        }


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def system_memory_bytes() -> Optional[int]:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        pass
    if sys.platform == "win32":
        import ctypes

        class MemoryStatus(ctypes.Structure):
            _fields_ = [
                ("length", ctypes.c_ulong),
                ("load", ctypes.c_ulong),
                ("total_phys", ctypes.c_ulonglong),
                ("avail_phys", ctypes.c_ulonglong),
                ("total_page", ctypes.c_ulonglong),
                ("avail_page", ctypes.c_ulonglong),
                ("total_virtual", ctypes.c_ulonglong),
                ("avail_virtual", ctypes.c_ulonglong),
                ("avail_extended", ctypes.c_ulonglong),
            ]

        status = MemoryStatus()
        status.length = ctypes.sizeof(MemoryStatus)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return int(status.total_phys)
    return None


def _cuda_unavailable_reason(torch: Any) -> str:
    if torch.version.cuda is None:
        return "this PyTorch build has no CUDA support"
    try:
        count = torch.cuda.device_count()
    except Exception as exc:  # driver problems surface here
        return f"CUDA driver problem: {exc}"
    if count == 0:
        return f"no NVIDIA GPU or driver found (PyTorch built for CUDA {torch.version.cuda})"
    return "CUDA is not available"


@functools.lru_cache(maxsize=1)  # the installation does not change while the app runs
def _torch_gpu_build() -> Optional[str]:
    """The GPU platform the installed torch was built for ("CUDA 13.0", "ROCm 6.2"), read from its
    version file without importing it; None for a CPU-only build or no torch."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        text = (Path(next(iter(spec.submodule_search_locations))) / "version.py").read_text(encoding="utf-8")
    except OSError:
        return "an unreadable build"  # cannot tell: let detection decide
    for name, label in (("cuda", "CUDA"), ("hip", "ROCm")):
        found = re.search(rf"^{name}\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.MULTILINE)
        if found:
            return f"{label} {found.group(1)}"
    return None


@functools.lru_cache(maxsize=1)
def _gpu_driver_present() -> bool:
    if sys.platform.startswith("linux"):
        return any(Path(p).exists() for p in ("/proc/driver/nvidia/version", "/dev/nvidia0", "/dev/kfd"))
    if sys.platform == "win32":
        import ctypes.util

        return ctypes.util.find_library("nvcuda") is not None or ctypes.util.find_library("amdhip64") is not None
    return True  # cannot tell cheaply: let detection decide


def gpu_possible(preference: str = "auto") -> Optional[str]:
    """Why a GPU may be used (None: surely the CPU), told without importing torch (which costs
    seconds and hundreds of MB): the CPU chosen in Settings, an Intel Mac, a torch built for the
    CPU only, or no GPU driver on the machine all mean the CPU."""
    if preference == "cpu":
        return None
    if sys.platform == "darwin":
        return "Metal may be available" if platform.machine() == "arm64" and preference in ("auto", "mps") else None
    if preference == "mps":
        return None
    build = _torch_gpu_build()
    if build is None or not _gpu_driver_present():
        return None
    return f"PyTorch built for {build}, and a GPU driver is present"


def surely_cpu_reason(preference: str = "auto") -> Optional[str]:
    """Why jobs surely run on the CPU, told without importing torch (as `gpu_possible` decides);
    None when a GPU may be used and only torch can tell."""
    if preference == "cpu":
        return "CPU chosen in Settings"
    if gpu_possible(preference) is not None:
        return None
    if sys.platform == "darwin" or preference == "mps":
        why = "Metal (MPS) is not available" if preference != "cuda" else "CUDA is not available on macOS"
    else:
        build = _torch_gpu_build()
        why = ("this PyTorch build has no GPU support" if build is None
               else f"no NVIDIA GPU or driver found (PyTorch built for {build})")
    return why if preference == "auto" else f"{preference.upper()} chosen in Settings but unavailable; {why}"


def detect_device(preference: str = "auto") -> DeviceInfo:
    """The device jobs run on. Imports torch (seconds and hundreds of MB) only when a GPU may be
    there: call from the engine thread, not the GUI thread."""
    reason = surely_cpu_reason(preference)
    if reason is not None:
        return DeviceInfo.cpu(reason)
    import torch

    reasons: list[str] = []
    if preference in ("auto", "cuda"):
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            return DeviceInfo("cuda", props.name, int(props.total_memory))
        reasons.append(_cuda_unavailable_reason(torch))
    if preference in ("auto", "mps"):
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return DeviceInfo("mps", "Apple GPU (Metal)", system_memory_bytes())
        if preference == "mps" or sys.platform == "darwin":
            reasons.append("Metal (MPS) is not available")
    if preference != "auto":
        reasons.insert(0, f"{preference.upper()} chosen in Settings but unavailable")
    return DeviceInfo.cpu("; ".join(reasons) or "no GPU found")


def default_memory_budget(device: DeviceInfo) -> int:
    """Bytes models may occupy: most of a GPU's memory, half the RAM on the CPU."""
    total = device.total_memory or 8 * 2**30
    if device.kind == "cuda":
        return int(total * 0.85)
    return int(total * 0.5)
