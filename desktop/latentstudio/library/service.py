"""The library's entry points for the CLI, the GUI and other parts of the app.

Scans run on the caller's thread (the GUI calls them from a background task); model work is
submitted to the engine: indexing as BACKGROUND jobs, searches as INTERACTIVE ones.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from ..engine import JobHandle, Priority
from ..engine.jobs import EventCallback
from ..models.image_encoding.encoder import image_encoder_in_job
from ..models.text_encoding.encoder import LOADING_MESSAGE, text_encoder_in_job
from .scan import ScanProgress, ScanReport, content_hash
from .search import SearchFilters, SearchHit, SearchRequest, build_query, listing, rank, tag_listing
from .store import PENDING
from .words import file_words, name_words

if TYPE_CHECKING:
    from ..config import Settings
    from ..context import AppContext
    from ..engine import Engine, JobContext
    from ..models import ModelRegistry
    from ..models.clip_exports import ClipExports
    from .indexer import IndexReport
    from .photo_library import Library

DEFAULT_SEARCH_TIMEOUT_S = 300.0


def add_folders(ctx: "AppContext", folders: Sequence[Path]) -> None:
    """Add folders to the library and remember them in Settings."""
    library = ctx.library
    for folder in folders:
        library.add_folder(Path(folder))
    remember_folders(library, ctx.settings, ctx.save_settings)


def remove_folder(ctx: "AppContext", folder: Path) -> int:
    library = ctx.library
    removed = library.remove_folder(Path(folder))
    remember_folders(library, ctx.settings, ctx.save_settings)
    return removed


def remember_folders(library: "Library", settings: "Settings", save_settings: Callable[[], None]) -> None:
    """Settings keep the user's library folders, so a lost database gets them back."""
    user = [str(f.path) for f in library.folders() if f.role == "user"]
    if user != settings.library_folders:
        settings.update(library_folders=user)
        save_settings()


def scan_library(
    ctx: "AppContext",
    folders: Optional[Sequence[Path]] = None,
    progress: Optional[ScanProgress] = None,
) -> ScanReport:
    return ctx.library.scan(folders, progress=progress)


def submit_index(
    ctx: "AppContext",
    model_id: Optional[str] = None,
    image_ids: Optional[Sequence[int]] = None,
    on_event: Optional[EventCallback] = None,
    batch_size: Optional[int] = None,
) -> JobHandle:
    """`index_library` with the context's collaborators (the CLI's and tests' way)."""
    return index_library(ctx.engine, ctx.registry, ctx.library, ctx.clip_exports, model_id, image_ids, on_event,
                         batch_size)


def index_library(
    engine: "Engine",
    registry: "ModelRegistry",
    library: "Library",
    exports: "ClipExports",
    model_id: Optional[str] = None,
    image_ids: Optional[Sequence[int]] = None,
    on_event: Optional[EventCallback] = None,
    batch_size: Optional[int] = None,
) -> JobHandle:
    """Encode what has no vector yet, as a BACKGROUND job. MissingModelError without a CLIP model.
    When the torch model had to encode, the ONNX exports are queued after it (`ClipExports`)."""
    installed = registry.resolve("clip", model_id)
    ids = list(image_ids) if image_ids is not None else None

    def run(job: "JobContext") -> "IndexReport":
        from .indexer import index_job  # the picture towers and decoders: not on a search's path

        report = index_job(job, library, installed, ids, batch_size=batch_size)
        if report.encoder == "torch":
            exports.submit(installed, on_cpu=not job.device.is_gpu)
        return report

    name = "Index generated image" if ids is not None and len(ids) == 1 else "Index photo library"
    return engine.submit(run, priority=Priority.BACKGROUND, name=name, kind="index", on_event=on_event)


def submit_search(
    ctx: "AppContext", request: SearchRequest, on_event: Optional[EventCallback] = None
) -> JobHandle:
    """`search_pictures` with the context's collaborators (the CLI's, the pages' and tests' way)."""
    return search_pictures(ctx.engine, ctx.registry, ctx.library, ctx.clip_exports, request,
                           ctx.settings.search_min_score, on_event)


def search_pictures(
    engine: "Engine",
    registry: "ModelRegistry",
    library: "Library",
    exports: "ClipExports",
    request: SearchRequest,
    default_min_score: float,
    on_event: Optional[EventCallback] = None,
) -> JobHandle:
    """Run a search as an INTERACTIVE job: it answers at the next checkpoint of any other job."""
    installed = registry.resolve("clip", request.model_id)
    min_score = default_min_score if request.min_score is None else request.min_score

    # A first search (or one after the library changed) reads the matrix from disk while the
    # engine starts and the query is encoded, not after.
    ready, version = library.fresh_index(installed.id)
    loading = library.start_loading(installed.id, version) if ready is None else None

    def run(job: "JobContext") -> list[SearchHit]:
        if not request.text and request.image is None:  # the filters alone: a listing
            listed = tag_listing if request.filters.tags else listing
            return listed(library, ready if loading is None else loading.result(), request)
        if request.image is None:  # words only: the onnxruntime text tower when it is ready
            with text_encoder_in_job(job, installed, exports) as encoder:
                query, negatives = build_query(library, encoder, None, installed.id, request)
        else:  # an example too: on the CPU, the onnxruntime picture tower when it is ready
            with text_encoder_in_job(job, installed, exports) as encoder, \
                    image_encoder_in_job(job, installed) as (pictures, tower):
                query, negatives = build_query(library, encoder, pictures, installed.id, request)
            if tower == "torch":
                exports.submit(installed, on_cpu=not job.device.is_gpu)
        index = ready if loading is None else loading.result()
        if loading is not None and library.should_save_index(installed.id):
            engine.submit(lambda _: library.save_index(installed.id), priority=Priority.BACKGROUND,
                          name="Save search index", kind="index-save")
        return rank(library, index, query, negatives, request, min_score)

    return engine.submit(run, priority=Priority.INTERACTIVE, name=request.describe(), kind="search",
                         on_event=on_event)


def submit_warmup(ctx: "AppContext", model_id: Optional[str] = None) -> JobHandle:
    """`warm_up_search` with the context's collaborators; the library opens inside the job."""
    return warm_up_search(ctx.engine, ctx.registry, lambda: ctx.library, ctx.clip_exports, model_id)


def warm_up_search(
    engine: "Engine",
    registry: "ModelRegistry",
    open_library: Callable[[], "Library"],
    exports: "ClipExports",
    model_id: Optional[str] = None,
) -> JobHandle:
    """Load what a first text search needs — the text tower and the vectors — as an INTERACTIVE
    job (the window submits it right after its first paint), when the library has vectors for
    the model; a search typed meanwhile runs right after it. Its result: whether it loaded."""
    installed = registry.resolve("clip", model_id)

    def run(job: "JobContext") -> bool:
        library = open_library()  # opened (and migrated, if it must be) here, not on the caller's thread
        if not library.store.has_vectors(installed.id):
            return False
        ready, version = library.fresh_index(installed.id)
        if ready is None:
            library.start_loading(installed.id, version)  # on its own thread, beside the model
        job.progress(0, None, LOADING_MESSAGE)
        with text_encoder_in_job(job, installed, exports):
            return True

    return engine.submit(run, priority=Priority.INTERACTIVE, name=LOADING_MESSAGE, kind="search-warmup")


def search_library(
    ctx: "AppContext",
    text: Optional[str] = None,
    image: Optional[Path] = None,
    limit: int = 20,
    negative: Optional[str] = None,
    filters: Optional[SearchFilters] = None,
    min_score: Optional[float] = None,
    text_weight: float = 1.0,
    image_weight: float = 1.0,
    model_id: Optional[str] = None,
    timeout: Optional[float] = DEFAULT_SEARCH_TIMEOUT_S,
    words: bool = True,
) -> list[SearchHit]:
    """Blocking search: ranked hits (best first) with `.path` and `.score` (cosine)."""
    request = SearchRequest(
        text=text,
        image=Path(image) if image is not None else None,
        negative=negative,
        text_weight=text_weight,
        image_weight=image_weight,
        limit=limit,
        min_score=min_score,
        filters=filters or SearchFilters(),
        model_id=model_id,
        words=words,
    )
    return submit_search(ctx, request).result(timeout)


def add_generated_image(
    ctx: "AppContext", path: Path, prompt: str, clip_score: Optional[tuple[float, str]] = None
) -> Optional[JobHandle]:
    """Record a generated image under the outputs folder and index it: the BACKGROUND embedding
    job, or None when no CLIP model is installed (the next index run takes it)."""
    image_id = record_generated_image(ctx.library, ctx.paths.outputs, path, prompt, clip_score)
    if ctx.registry.default("clip") is None:
        return None
    return submit_index(ctx, image_ids=[image_id])


def record_generated_image(
    library: "Library", outputs: Path, path: Path, prompt: str, clip_score: Optional[tuple[float, str]] = None
) -> int:
    """Store a generated image (tagged, with its prompt and its (CLIP score, model) when it has
    one), waiting for its vector; its image id."""
    path = Path(os.path.abspath(path))
    st = path.stat()
    folder = library.folder_for(path)
    if folder is None:
        outputs = Path(os.path.abspath(outputs))
        if not path.is_relative_to(outputs):
            raise ValueError(f"{path} is not inside the outputs folder {outputs}")
        folder = library.add_folder(outputs, role="outputs")
    store = library.store
    digest = content_hash(path, st.st_size)
    like = store.known_hashes([digest]).get(digest)
    with store.transaction() as db:
        image_id = store.upsert_image(
            db, folder.id, str(path), st.st_size, st.st_mtime, digest,
            status=like.status if like else PENDING, like=like, generated=True, prompt=prompt,
        )
        words = file_words(path)
        store.set_words(db, image_id, name_words(str(path), str(folder.path)), words.text or prompt or "",
                        words.rating, words.label)
        if clip_score is not None:
            store.record_clip_score(db, digest, clip_score[1], clip_score[0])
    return image_id

