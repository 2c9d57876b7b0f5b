"""Settings: defaults, validation with clear messages, persistence; one data home."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import pytest

from latentstudio.config import Settings, load_settings, save_settings
from latentstudio.context import AppContext
from latentstudio.paths import Paths, data_home


def test_data_home_follows_environment(fresh_home: Path) -> None:
    assert data_home() == fresh_home.resolve()


def test_everything_lives_under_the_home(fresh_home: Path) -> None:
    paths = Paths.default().ensure()
    for path in (paths.settings_file, paths.library_db, paths.thumbnails, paths.models,
                 paths.downloads, paths.outputs, paths.code_history_db, paths.logs):
        assert fresh_home.resolve() in path.parents


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "settings.json")
    assert settings == Settings()
    assert settings.problems == []


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = Settings()
    settings.update(device="cpu", memory_budget_gb=6, idle_unload_minutes=3, offline_mode=True)
    save_settings(settings, path)
    data = json.loads(path.read_text())
    assert data["version"] == 1
    loaded = load_settings(path)
    assert (loaded.device, loaded.memory_budget_gb, loaded.idle_unload_minutes, loaded.offline_mode) == (
        "cpu", 6.0, 3.0, True)


def test_bad_values_fall_back_with_messages(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "device": "tpu", "memory_budget_gb": "lots",
                                "idle_unload_minutes": 5, "offline_mode": "yes"}))
    with caplog.at_level(logging.WARNING):
        settings = load_settings(path)
    assert settings.device == "auto"
    assert settings.memory_budget_gb == 0.0
    assert settings.idle_unload_minutes == 5.0
    assert settings.offline_mode is False
    assert len(settings.problems) == 3
    assert any("'device' = 'tpu' must be one of auto, cuda, mps, cpu" in p for p in settings.problems)
    assert any("tpu" in r.getMessage() for r in caplog.records)


def test_corrupt_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    settings = load_settings(path)
    assert settings == Settings()
    assert "could not read settings.json" in settings.problems[0]


def test_update_rejects_bad_value() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="idle_unload_minutes"):
        settings.update(idle_unload_minutes=-1)
    with pytest.raises(ValueError, match="unknown setting"):
        settings.update(colour="blue")


def test_context_writes_log_file(paths: Paths) -> None:
    ctx = AppContext(paths)
    logging.getLogger("latentstudio.test").warning("hello log")
    ctx.close()
    assert "hello log" in (paths.logs / "latent-studio.log").read_text()


def test_offline_switch_applies_to_the_process(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub_constants = sys.modules.get("huggingface_hub.constants")
    if hub_constants is not None:  # it read HF_HUB_OFFLINE at import (set for tests by conftest)
        monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    ctx = AppContext(paths)
    ctx.settings.update(offline_mode=True)
    ctx.save_settings()
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    ctx.settings.update(offline_mode=False)
    ctx.save_settings()
    assert "HF_HUB_OFFLINE" not in os.environ
    ctx.close()
