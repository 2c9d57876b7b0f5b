"""The catalogue of recommended models (`resources/models.json`) and the default pick per kind."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Optional

from ..engine.device import DeviceInfo, system_memory_bytes
from .detect import KINDS

RESOURCES_ENV = "LATENT_STUDIO_RESOURCES"
CATALOGUE_NAME = "models.json"


class CatalogueError(ValueError):
    """The catalogue file is missing or malformed, or names no such model."""


def resources_dir() -> Path:
    """`resources/`: overridable, inside a PyInstaller bundle, or next to the source tree."""
    override = os.environ.get(RESOURCES_ENV)
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[3] / "resources"


def safe_relative_path(text: str) -> str:
    """A repository path we may write under a staging folder: relative, no `..`, no backslashes."""
    path = PurePosixPath(text)
    if not text or "\\" in text or path.is_absolute() or ".." in path.parts or text.startswith("."):
        raise CatalogueError(f"unsafe file path {text!r} in the model catalogue")
    return str(path)


@dataclass(frozen=True)
class CatalogueFile:
    path: str  # path inside the hub repository
    size: int  # approximate: the hub's figure is used when downloading
    save_as: str  # path inside the installed model folder
    sha256: Optional[str] = None  # optional pin, checked in addition to the hub's hash
    optional: bool = False  # a file some revisions lack (a tokenizer's extras): skipped when absent


@dataclass(frozen=True)
class CatalogueEntry:
    id: str
    kind: str
    name: str
    repo: str
    revision: str
    licence: str
    licence_url: str
    good_for: str
    min_memory_gb: float
    default_for: tuple[str, ...]
    files: tuple[CatalogueFile, ...]
    architecture: Optional[str] = None
    roles: tuple[str, ...] = ()  # what else the app recommends it for, e.g. "prompts" (Image page prompt help)

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "repo": self.repo,
            "revision": self.revision,
            "size_bytes": self.size_bytes,
            "licence": self.licence,
            "licence_url": self.licence_url,
            "good_for": self.good_for,
            "min_memory_gb": self.min_memory_gb,
            "roles": list(self.roles),
            "files": [f.save_as for f in self.files],
        }


def _entry(raw: dict[str, Any]) -> CatalogueEntry:
    try:
        kind = str(raw["kind"])
        if kind not in KINDS:
            raise CatalogueError(f"catalogue entry {raw.get('id')!r}: unknown kind {kind!r}")
        files = []
        for item in raw["files"]:
            path = safe_relative_path(str(item["path"]))
            files.append(
                CatalogueFile(
                    path=path,
                    size=int(item.get("size", 0)),
                    save_as=safe_relative_path(str(item.get("save_as", path))),
                    sha256=item.get("sha256"),
                    optional=bool(item.get("optional", False)),
                )
            )
        if not files:
            raise CatalogueError(f"catalogue entry {raw.get('id')!r} lists no files")
        return CatalogueEntry(
            id=str(raw["id"]),
            kind=kind,
            name=str(raw.get("name", raw["id"])),
            repo=str(raw["repo"]),
            revision=str(raw.get("revision", "main")),
            licence=str(raw["licence"]),
            licence_url=str(raw.get("licence_url", "")),
            good_for=str(raw.get("good_for", "")),
            min_memory_gb=float(raw.get("min_memory_gb", 0)),
            default_for=tuple(str(d) for d in raw.get("default_for", ())),
            files=tuple(files),
            architecture=raw.get("architecture"),
            roles=tuple(str(r) for r in raw.get("roles", ())),
        )
    except CatalogueError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        name = raw.get("id") if isinstance(raw, dict) else raw
        raise CatalogueError(f"catalogue entry {name!r} is malformed: {exc!r}") from exc


class Catalogue:
    def __init__(self, entries: list[CatalogueEntry]):
        self.entries = entries

    @classmethod
    def load(cls, path: Optional[Path] = None) -> "Catalogue":
        path = path or resources_dir() / CATALOGUE_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CatalogueError(f"cannot read the model catalogue {path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("models"), list):
            raise CatalogueError(f"{path} is not a model catalogue (no \"models\" list)")
        return cls([_entry(raw) for raw in data["models"]])

    def get(self, entry_id: str) -> CatalogueEntry:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        known = ", ".join(e.id for e in self.entries)
        raise CatalogueError(f"no model {entry_id!r} in the catalogue; known: {known}")

    def for_kind(self, kind: str) -> list[CatalogueEntry]:
        return [e for e in self.entries if e.kind == kind]

    def for_role(self, role: str) -> list[CatalogueEntry]:
        return [e for e in self.entries if role in e.roles]

    def recommended(
        self, kind: str, device: Optional[DeviceInfo] = None, ram_bytes: Optional[int] = None
    ) -> Optional[CatalogueEntry]:
        return recommend(self.for_kind(kind), device, ram_bytes)


def recommend(
    entries: list[CatalogueEntry],
    device: Optional[DeviceInfo] = None,
    ram_bytes: Optional[int] = None,
) -> Optional[CatalogueEntry]:
    """The entry to offer first: the device class's default if it fits in memory, else the
    smallest that fits, else the smallest. Without a known device, assume the CPU."""
    if not entries:
        return None
    is_gpu = device is not None and device.is_gpu
    if is_gpu and device is not None and device.kind == "cuda" and device.total_memory:
        memory = device.total_memory  # VRAM is what a model must fit in
    else:
        memory = ram_bytes or (device.total_memory if device else None) or system_memory_bytes() or 8 * 2**30
    fits = [e for e in entries if e.min_memory_gb * 2**30 <= memory]
    device_class = "gpu" if is_gpu else "cpu"
    preferred = [e for e in fits if device_class in e.default_for]
    if preferred:
        return preferred[0]
    by_size = sorted(fits or entries, key=lambda e: e.size_bytes)
    return by_size[0]
