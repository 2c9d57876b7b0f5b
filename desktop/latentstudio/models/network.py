"""The one gate every network path passes: the Settings offline switch and HF_HUB_OFFLINE."""

from __future__ import annotations

import os
import sys

OFFLINE_ENV = "HF_HUB_OFFLINE"

_set_by_us = False


class NetworkDisabledError(ConnectionError):
    """A download was asked for while the app (or the environment) is offline."""


def environment_offline() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub sees it (it reads the variable once, at import)."""
    hub_constants = sys.modules.get("huggingface_hub.constants")
    if hub_constants is not None:
        return bool(hub_constants.is_offline_mode())
    return os.environ.get(OFFLINE_ENV, "").strip().upper() in ("1", "ON", "YES", "TRUE")


def apply_offline_mode(enabled: bool) -> None:
    """Make the whole process offline (huggingface_hub, transformers, diffusers) when the switch
    is on; when it goes off, undo only what this function did, so a user's own HF_HUB_OFFLINE stays."""
    global _set_by_us
    if enabled:
        if not environment_offline():
            _set_by_us = True
        os.environ[OFFLINE_ENV] = "1"
    elif _set_by_us:
        os.environ.pop(OFFLINE_ENV, None)
        _set_by_us = False
    else:
        return
    hub_constants = sys.modules.get("huggingface_hub.constants")
    if hub_constants is not None:
        hub_constants.HF_HUB_OFFLINE = enabled


def offline_by_environment() -> bool:
    """HF_HUB_OFFLINE set by the user's environment, not by our own switch."""
    return environment_offline() and not _set_by_us


def download_block_reason(offline_setting: bool) -> str:
    """Why downloads are off right now, in words, or "" when they may run."""
    if offline_setting:
        return "Offline mode is on (Settings → Fully offline): nothing is downloaded."
    if offline_by_environment():
        return f"{OFFLINE_ENV} is set in the environment: nothing is downloaded."
    return ""


def check_network_allowed(offline_setting: bool) -> None:
    """Raise NetworkDisabledError, before any connection is made, when downloads are off."""
    apply_offline_mode(offline_setting)
    if offline_setting:
        raise NetworkDisabledError(
            "Offline mode is on (Settings → Fully offline), so nothing is downloaded. "
            "Turn it off to download, or import a model you already have."
        )
    if environment_offline():
        raise NetworkDisabledError(
            f"{OFFLINE_ENV} is set in the environment, so nothing is downloaded. "
            f"Unset it to download, or import a model you already have."
        )


def disable_hub_telemetry() -> None:
    """Send the hub only what a download needs: no telemetry, no agent-registry look-ups."""
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    hub_constants = sys.modules.get("huggingface_hub.constants")
    if hub_constants is not None:
        hub_constants.HF_HUB_DISABLE_TELEMETRY = True
