"""The text-embedding model exported to ONNX (`onnx_export`), as one tracked BACKGROUND job per
model ("Prepare fast code search"), queued where the torch model had to be loaded anyway: after a
project index or a code search it ran. Code search then needs no torch (`embedder_choice`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..models import InstalledModel
from ..models.export_jobs import ExportJobs
from ..models.onnx_exports import ExportStatus
from . import onnx_embedder
from .embedder import torch_embedder_in_job

if TYPE_CHECKING:
    from ..engine import Engine, JobContext

JOB_NAME = "Prepare fast code search"


def needs_export(installed: InstalledModel, on_cpu: bool) -> bool:
    """No checked export for the model's current files yet, and one can be made. Wanted on every
    device: queries run on the CPU."""
    return onnx_embedder.status(installed).wanted


def export_in_job(job: "JobContext", installed: InstalledModel) -> ExportStatus:
    """Export the model from its torch model (loaded once, kept resident); its new status."""
    from .onnx_export import export_embedder

    job.progress(0, 2, f"loading {installed.id}…")
    with torch_embedder_in_job(job, installed) as embedder:
        job.checkpoint()
        job.progress(1, 2, f"exporting {installed.id} to ONNX")
        state = export_embedder(embedder, installed)
    job.progress(2, 2, "fast code search ready" if state.ready else state.reason)
    return state


class EmbedderExports(ExportJobs):
    """Owned by the application context; `engine` gives the engine (started on first need)."""

    def __init__(self, engine: Callable[[], "Engine"]):
        super().__init__(engine, needs_export, export_in_job, JOB_NAME, "embedder-export")
