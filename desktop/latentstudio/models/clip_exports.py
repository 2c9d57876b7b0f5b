"""Both CLIP towers exported to ONNX, as one tracked BACKGROUND job per model ("Prepare fast
search"), queued where the torch model had to be loaded anyway: after an index or a search it
ran. The text tower is always exported (queries run on the CPU); the picture tower only when
pictures are encoded on the CPU, where it replaces torch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .clip_loader import clip_in_job
from .export_jobs import ExportJobs
from .image_encoding import onnx_tower as image_tower
from .onnx_exports import ExportStatus
from .registry import InstalledModel
from .text_encoding import onnx_tower as text_tower

if TYPE_CHECKING:
    from ..engine import Engine, JobContext

JOB_NAME = "Prepare fast search"


def towers_to_export(installed: InstalledModel, on_cpu: bool) -> list[str]:
    """"text" and/or "picture": the towers this model needs exported now."""
    wanted = ["text"] if text_tower.status(installed).wanted else []
    if on_cpu and image_tower.status(installed).wanted:
        wanted.append("picture")
    return wanted


def export_in_job(job: "JobContext", installed: InstalledModel) -> dict[str, ExportStatus]:
    """Export the towers the model needs from its torch model (loaded once, kept resident); the new
    status of each tower exported."""
    from .image_encoding.onnx_export import export_image_tower
    from .text_encoding.onnx_export import export_text_tower

    exporters = {"text": export_text_tower, "picture": export_image_tower}
    wanted = towers_to_export(installed, not job.device.is_gpu)
    done: dict[str, ExportStatus] = {}
    if not wanted:
        return done
    job.progress(0, len(wanted), "loading the CLIP model…")
    with clip_in_job(job, installed) as clip:
        for step, tower in enumerate(wanted):
            job.checkpoint()
            job.progress(step, len(wanted), f"exporting the {tower} tower ({step + 1}/{len(wanted)})")
            done[tower] = exporters[tower](clip, installed)
    job.progress(len(wanted), len(wanted), "fast search ready")
    return done


class ClipExports(ExportJobs):
    """Owned by the application context; `engine` gives the engine (started on first need).
    `submit(installed, on_cpu)`: `on_cpu`, the pictures are encoded on the CPU (so the picture
    tower is wanted too)."""

    def __init__(self, engine: Callable[[], "Engine"]):
        super().__init__(engine, lambda installed, on_cpu: bool(towers_to_export(installed, on_cpu)),
                         export_in_job, JOB_NAME, "clip-export")
