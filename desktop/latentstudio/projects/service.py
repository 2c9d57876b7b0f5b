"""Project indexing and search as engine jobs: indexing at BACKGROUND priority (a checkpoint per
batch of files and per embedding batch, so a search or a generation goes first), a search at
INTERACTIVE priority (embed the request, rank the chunks). Both embed with the onnxruntime export
of the model when it is ready (indexing only on the CPU), else with torch, after which the export
is queued on `exports` (`embedder_exports.EmbedderExports`), once per model."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..engine import Engine, JobContext, JobHandle, Priority
from ..engine.jobs import EventCallback
from ..models import InstalledModel, ModelRegistry
from .embedder_choice import Embedder, ExportQueue, embedder_in_job
from .folders import ProjectFolders
from .index import EMBED_BATCH, RefreshReport, embed_pending, refresh
from .retrieve import Hit, search
from .store import ProjectStore

log = logging.getLogger(__name__)

KIND = "text-embedding"
_stores: dict[Path, ProjectStore] = {}
_stores_lock = threading.Lock()


def open_store(home: Path, folder: Path) -> ProjectStore:
    """The project's index, one store per process (the engine thread and the caller share it)."""
    path = ProjectFolders(home).index_path(folder)
    with _stores_lock:
        if path not in _stores:
            _stores[path] = ProjectStore(path)
        return _stores[path]


@dataclass
class IndexReport:
    refresh: RefreshReport
    embedded: int = 0
    model: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. vectors of another dimension re-made

    def describe(self) -> str:
        text = f"{self.refresh.describe()}; {self.embedded} chunks embedded with {self.model}"
        return "; ".join([text, *self.notes])


def check_dimension(store: ProjectStore, model: str, embedder: Embedder) -> Optional[str]:
    """Vectors stored for this model id with another dimension (the folder was replaced by another
    model of the same name) are dropped, to be made again; the note says why."""
    stored = store.stored_dimensions().get(model)
    if stored is None or stored == embedder.dimension:
        return None
    dropped = store.drop_vectors(model)
    return (f"the index held {dropped} vectors of {stored} dimensions for {model}, which now gives "
            f"{embedder.dimension}: they are embedded again")


def run_index(job: JobContext, store: ProjectStore, root: Path, installed: InstalledModel,
              exports: Optional[ExportQueue] = None) -> IndexReport:
    job.progress(0, None, f"Reading {root.name}…")
    report = IndexReport(refresh(store, root, job.progress, job.checkpoint), model=installed.id)
    stored = store.stored_dimensions().get(installed.id)
    if store.pending_count(installed.id) == 0 and stored in (None, installed.extra.get("dimension")):
        return report
    job.progress(0, None, f"Loading {installed.id}…")
    # Many chunks: onnxruntime only on the CPU (on a GPU torch is faster).
    with embedder_in_job(job, installed, exports, lambda: job.surely_cpu or not job.device.is_gpu) as embedder:
        note = check_dimension(store, installed.id, embedder)
        if note:
            log.warning(note)
            report.notes.append(note)
        report.embedded = embed_pending(store, embedder.encode, installed.id, job.progress, job.checkpoint)
    return report


def submit_index(engine: Engine, registry: ModelRegistry, store: ProjectStore, root: Path,
                 model_id: Optional[str] = None, on_event: Optional[EventCallback] = None,
                 exports: Optional[ExportQueue] = None) -> JobHandle:
    """Refresh and embed a project; MissingModelError now when no text-embedding model is installed."""
    installed = registry.resolve(KIND, model_id)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"project folder not found: {root}")
    return engine.submit(lambda job: run_index(job, store, root, installed, exports), priority=Priority.BACKGROUND,
                         name=f"Index {root.name}", kind="project-index", on_event=on_event,
                         memory_bytes=installed.size_bytes)


def run_search(job: JobContext, store: ProjectStore, text: str, installed: InstalledModel,
               limit: int, mode: str = "fused", root: Optional[Path] = None,
               exports: Optional[ExportQueue] = None) -> list[Hit]:
    """Rank the chunks for `text`. With `root`, the index is refreshed first (size and mtime, so it
    is quick): deleted files are purged and never cited, and a few changed chunks are embedded here;
    more are left to the background index."""
    if root is not None:
        refresh(store, root, checkpoint=job.checkpoint)
    vector: Optional[np.ndarray] = None
    if mode != "keywords":
        with embedder_in_job(job, installed, exports, lambda: True) as embedder:  # queries: always the CPU
            if root is not None and 0 < store.pending_count(installed.id) <= EMBED_BATCH:
                embed_pending(store, embedder.encode, installed.id, checkpoint=job.checkpoint)
            vector = embedder.encode([text])[0]
    return search(store, text, vector, installed.id, limit=limit, mode=mode)


def submit_search(engine: Engine, registry: ModelRegistry, store: ProjectStore, text: str, limit: int = 10,
                  model_id: Optional[str] = None, mode: str = "fused", root: Optional[Path] = None,
                  on_event: Optional[EventCallback] = None, exports: Optional[ExportQueue] = None) -> JobHandle:
    installed = registry.resolve(KIND, model_id)
    return engine.submit(lambda job: run_search(job, store, text, installed, limit, mode, root, exports),
                         priority=Priority.INTERACTIVE, name="Search code", kind="project-search",
                         on_event=on_event, memory_bytes=installed.size_bytes)
