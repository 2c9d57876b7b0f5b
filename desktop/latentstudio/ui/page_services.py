"""What a page is handed: the context, the event bridge, model actions, downloads, and a way to
ask the main window for cross-page actions (pages never reach into one another)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal

from ..context import AppContext
from .bridge import EventBridge
from .downloads import DownloadController
from .model_actions import ModelActions


class PageRequests(QObject):
    """Requests a page makes of the main window, which routes them to the page that acts."""

    showPage = Signal(str)
    moreLikeThis = Signal(Path)  # search the library for pictures like this file
    useAsInitImage = Signal(Path)
    reuseSettings = Signal(Path)  # fill the Image form from this file's generation settings


@dataclass
class PageServices:
    ctx: AppContext
    bridge: EventBridge
    models: ModelActions
    downloads: DownloadController
    requests: PageRequests

    @classmethod
    def create(cls, ctx: AppContext, parent: Optional[QObject] = None) -> "PageServices":
        bridge = EventBridge(ctx, parent)
        models = ModelActions(ctx, parent)
        return cls(ctx, bridge, models, DownloadController(ctx, bridge, models, parent), PageRequests(parent))
