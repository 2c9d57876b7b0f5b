"""Which text tower answers a text query: the checked onnxruntime export when it is ready (no torch,
no open_clip), else the torch tower — and then the export is made for next time, once per model.

The export needs the torch model loaded, so it is made where that model already is: at the end
of an indexing job, or as a BACKGROUND job after a search that had to use the torch tower.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Iterator, Optional

from ..engine import JobHandle, Priority
from ..models import fast_text
from ..models.clip_loader import clip_in_job
from ..models.registry import InstalledModel

if TYPE_CHECKING:
    from ..context import AppContext
    from ..engine import JobContext

log = logging.getLogger(__name__)

LOADING_MESSAGE = "Loading the search model"
_exports: "weakref.WeakKeyDictionary[AppContext, dict[str, JobHandle]]" = weakref.WeakKeyDictionary()
_exports_lock = threading.Lock()


def cache_key(installed: InstalledModel, sha256: str) -> str:
    return f"clip-text-onnx:{installed.id}:{sha256[:16]}"


@contextlib.contextmanager
def fast_text_in_job(job: "JobContext", installed: InstalledModel) -> Iterator[Optional[fast_text.OnnxTextEncoder]]:
    """`with fast_text_in_job(job, installed) as encoder:` — the onnxruntime text tower, kept in the
    engine's CPU cache (no device detection), or None when the torch tower must answer (why is
    logged: by the loader when a check failed)."""
    with contextlib.ExitStack() as stack:
        encoder = None
        state = fast_text.status(installed)
        if state.ready and state.sha256:
            if cache_key(installed, state.sha256) not in job.cpu_models:
                job.progress(0, None, LOADING_MESSAGE)
            try:
                encoder = stack.enter_context(job.cpu_models.use(
                    cache_key(installed, state.sha256),
                    lambda: fast_text.load_text_encoder(installed, state.sha256),
                ))
            except fast_text.FastTextUnavailable:
                encoder = None
        yield encoder


def needs_export(installed: InstalledModel) -> bool:
    """No checked export for the model's current files yet, and one can be made. (An export that
    is ready stays exportable, i.e. could be made again: that alone is no reason to.)"""
    state = fast_text.status(installed)
    return state.exportable and not state.ready


def export_in_job(job: "JobContext", installed: InstalledModel) -> Optional[fast_text.FastTextStatus]:
    """Export the text tower from the resident torch model when the fast path needs it; the new
    status, or None when nothing was to be done."""
    if not needs_export(installed):
        return None
    from ..models.fast_text_export import export_text_tower

    job.progress(0, None, "Preparing fast text search")
    with clip_in_job(job, installed) as clip:
        return export_text_tower(clip, installed)


def submit_export(ctx: "AppContext", installed: InstalledModel) -> Optional[JobHandle]:
    """Queue the export as a BACKGROUND job unless it is not needed or already queued."""
    if not needs_export(installed):
        return None
    with _exports_lock:
        pending = _exports.setdefault(ctx, {})
        handle = pending.get(installed.id)
        if handle is not None and not handle.done():
            return handle
        handle = pending[installed.id] = ctx.engine.submit(
            lambda job: export_in_job(job, installed), priority=Priority.BACKGROUND,
            name="Prepare fast text search", kind="text-export",
        )
        return handle


def pending_export(ctx: "AppContext", model_id: str) -> Optional[JobHandle]:
    """The export job queued for this model, if one is still running or waiting."""
    with _exports_lock:
        handle = _exports.get(ctx, {}).get(model_id)
    return handle if handle is not None and not handle.done() else None
