"""User settings: a versioned JSON file with defaults and validation.

A bad or unknown value never crashes the app: it is replaced by the default and a
message saying what was wrong is kept in `Settings.problems` (shown in the UI, logged).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from .atomic_files import write_json
from .stored_formats import NewerFormatError

log = logging.getLogger(__name__)

SETTINGS_VERSION = 1
DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
THEME_CHOICES = ("system", "light", "dark")


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return check


def _number(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be a number")
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}")
        return float(value)

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _address(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 500 or any(c.isspace() for c in value.strip()):
        raise ValueError("must be a cluster address without spaces (auto, local, ray://host:port or host:port)")
    return value.strip()


def _string_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of strings")
    return list(value)


_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "device": _choice(*DEVICE_CHOICES),
    "memory_budget_gb": _number(0, 4096),
    "idle_unload_minutes": _number(0, 24 * 60),
    "offline_mode": _boolean,
    "search_min_score": _number(-1, 1),
    "theme": _choice(*THEME_CHOICES),
    "library_folders": _string_list,
    "cluster_address": _address,
}


@dataclass
class Settings:
    """Persisted preferences. `memory_budget_gb == 0` means "pick from the machine"."""

    device: str = "auto"
    memory_budget_gb: float = 0.0
    idle_unload_minutes: float = 10.0
    offline_mode: bool = False
    search_min_score: float = 0.2
    theme: str = "system"
    library_folders: list[str] = field(default_factory=list)
    cluster_address: str = ""  # "": the window indexes on this computer; else a Ray address for it
    problems: list[str] = field(default_factory=list, compare=False, repr=False)
    newer_file: bool = field(default=False, compare=False, repr=False)  # read, but never rewritten

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": SETTINGS_VERSION}
        for f in fields(self):
            if f.name not in ("problems", "newer_file"):
                data[f.name] = getattr(self, f.name)
        return data

    @classmethod
    def from_json(cls, data: Any) -> "Settings":
        settings = cls()
        if not isinstance(data, dict):
            settings.problems.append("settings file is not a JSON object; using defaults")
            return settings
        version = data.get("version", SETTINGS_VERSION)
        if isinstance(version, int) and not isinstance(version, bool) and version > SETTINGS_VERSION:
            settings.newer_file = True
            settings.problems.append(
                f"the settings file was written by a newer Latent Studio (format {version}); the values "
                "this release knows are used, and changes are not saved until you update"
            )
        elif version != SETTINGS_VERSION:
            settings.problems.append(
                f"settings version {version!r} is not {SETTINGS_VERSION}; known values were kept"
            )
        for name, check in _VALIDATORS.items():
            if name not in data:
                continue
            try:
                setattr(settings, name, check(data[name]))
            except ValueError as exc:
                default = getattr(settings, name)
                settings.problems.append(
                    f"setting {name!r} = {data[name]!r} {exc}; using the default {default!r}"
                )
        return settings

    def update(self, **changes: Any) -> None:
        """Set values with the same validation as loading; raises ValueError on a bad one."""
        for name, value in changes.items():
            if name not in _VALIDATORS:
                raise ValueError(f"unknown setting {name!r}")
            try:
                setattr(self, name, _VALIDATORS[name](value))
            except ValueError as exc:
                raise ValueError(f"setting {name!r} {exc}") from None


def load_settings(path: Path) -> Settings:
    if not path.exists():
        return Settings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        settings = Settings()
        settings.problems.append(f"could not read {path.name} ({exc}); using defaults")
    else:
        settings = Settings.from_json(data)
    for problem in settings.problems:
        log.warning("%s", problem)
    return settings


def save_settings(settings: Settings, path: Path) -> None:
    """Write atomically so a crash mid-save never leaves a half-written file; a newer release's
    file is refused (NewerFormatError), never rewritten."""
    if settings.newer_file:
        raise NewerFormatError(path, "newer", SETTINGS_VERSION, "settings")
    write_json(path, settings.to_json())
