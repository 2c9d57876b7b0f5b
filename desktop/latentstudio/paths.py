"""Where user data lives: one data home, overridable with LATENT_STUDIO_HOME."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "latent-studio"
HOME_ENV = "LATENT_STUDIO_HOME"


def data_home() -> Path:
    """The folder holding every piece of user data (settings, library, models, outputs, logs)."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class Paths:
    home: Path

    @classmethod
    def default(cls) -> "Paths":
        return cls(data_home())

    @property
    def settings_file(self) -> Path:
        return self.home / "settings.json"

    @property
    def library_db(self) -> Path:
        return self.home / "library.sqlite3"

    @property
    def thumbnails(self) -> Path:
        return self.home / "thumbnails"

    @property
    def models(self) -> Path:
        return self.home / "models"

    @property
    def downloads(self) -> Path:
        """Staging area for downloads in progress; never read as installed models."""
        return self.home / "downloads"

    @property
    def outputs(self) -> Path:
        return self.home / "outputs"

    @property
    def code_history_db(self) -> Path:
        return self.home / "code-history.sqlite3"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def ensure(self) -> "Paths":
        for folder in (self.home, self.thumbnails, self.models, self.outputs, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return self
