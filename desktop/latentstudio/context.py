"""The application's shared objects (paths, settings, model registry, engine), for CLI and GUI alike."""

from __future__ import annotations

import logging
from typing import Optional

from .config import Settings, load_settings, save_settings
from .engine import Engine, ModelCache
from .engine.device import DeviceInfo
from .logs import setup_logging
from .models import ModelRegistry
from .models.network import apply_offline_mode
from .paths import Paths

log = logging.getLogger(__name__)


class AppContext:
    """Created once per process. The engine starts on first use (its thread imports torch)."""

    def __init__(self, paths: Optional[Paths] = None, device: Optional[DeviceInfo] = None):
        self.paths = (paths or Paths.default()).ensure()
        self.log_file = setup_logging(self.paths.logs)
        self.settings: Settings = load_settings(self.paths.settings_file)
        self.registry = ModelRegistry(self.paths.models)
        apply_offline_mode(self.settings.offline_mode)
        self._device = device
        self._engine: Optional[Engine] = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            settings = self.settings
            self._engine = Engine(
                device=self._device,
                device_preference=settings.device,
                models_factory=lambda device: ModelCache.for_device(
                    device,
                    budget_bytes=int(settings.memory_budget_gb * 2**30),
                    idle_unload_s=settings.idle_unload_minutes * 60,
                ),
            ).start()
        return self._engine

    @property
    def engine_started(self) -> bool:
        return self._engine is not None

    def save_settings(self) -> None:
        save_settings(self.settings, self.paths.settings_file)
        apply_offline_mode(self.settings.offline_mode)
        cache = self._engine.models_if_ready if self._engine is not None else None
        if cache is not None:
            cache.idle_unload_s = self.settings.idle_unload_minutes * 60
            if self.settings.memory_budget_gb:
                cache.budget_bytes = int(self.settings.memory_budget_gb * 2**30)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None
