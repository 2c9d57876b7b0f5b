"""The project folders the user added (`<data home>/projects/projects.json`), each with its index
`<data home>/projects/<id>.sqlite3`. Removing a project forgets its index, never its files."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..atomic_files import write_json

LIST_VERSION = 1


@dataclass(frozen=True)
class Project:
    path: Path
    added: str

    @property
    def id(self) -> str:
        digest = hashlib.sha256(str(self.path).encode("utf-8")).hexdigest()[:12]
        return f"{self.path.name or 'root'}-{digest}"


class ProjectFolders:
    def __init__(self, home: Path):
        self.root = Path(home) / "projects"
        self.list_file = self.root / "projects.json"

    def index_path(self, folder: Path) -> Path:
        return self.root / f"{Project(_key(folder), '').id}.sqlite3"

    def list(self) -> list[Project]:
        try:
            data = json.loads(self.list_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the project list {self.list_file}: {exc}") from exc
        if data.get("version", 0) > LIST_VERSION:
            raise ValueError(f"{self.list_file} was written by a newer Latent Studio; update the app")
        return [Project(Path(item["path"]), str(item.get("added", ""))) for item in data.get("projects", [])]

    def add(self, folder: Path) -> Project:
        folder = _key(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"project folder not found: {folder}")
        projects = self.list()
        for project in projects:
            if project.path == folder:
                return project
        project = Project(folder, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self._save([*projects, project])
        return project

    def remove(self, folder: Path) -> bool:
        """Forget a project and delete its index (ours); the folder itself is not touched."""
        folder = _key(folder)
        projects = self.list()
        kept = [p for p in projects if p.path != folder]
        if len(kept) == len(projects):
            return False
        self._save(kept)
        index = self.index_path(folder)
        for path in (index, index.with_name(index.name + "-wal"), index.with_name(index.name + "-shm")):
            if path.exists():
                os.remove(path)
        return True

    def _save(self, projects: list[Project]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {"version": LIST_VERSION, "projects": [{"path": str(p.path), "added": p.added} for p in projects]}
        write_json(self.list_file, data)


def _key(folder: Path) -> Path:
    return Path(folder).expanduser().resolve()
