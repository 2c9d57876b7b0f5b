"""The inference engine: one thread that owns the device, a priority queue of jobs, resident models."""

from .device import DeviceInfo, detect_device
from .engine import Engine
from .jobs import (
    Cancelled,
    EventKind,
    JobContext,
    JobEvent,
    JobHandle,
    JobState,
    Priority,
    Progress,
    TrackedJob,
)
from .residency import ModelCache, ModelMemoryError

__all__ = [
    "Cancelled",
    "DeviceInfo",
    "Engine",
    "EventKind",
    "JobContext",
    "JobEvent",
    "JobHandle",
    "JobState",
    "ModelCache",
    "ModelMemoryError",
    "Priority",
    "Progress",
    "TrackedJob",
    "detect_device",
]
