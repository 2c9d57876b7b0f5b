"""Entry points of the analysis for the CLI and the GUI: every model pass is an engine job.

Updates (tags, duplicates, themes, the map) are BACKGROUND jobs that follow the change log, so
running one after each index costs the new pictures only. What a user waits for (adding a tag
with example pictures) is FOREGROUND.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from ...engine import JobHandle, Priority
from ...engine.jobs import EventCallback
from ...models.clip_loader import clip_in_job
from ..search import image_query_vector
from ..store import analysis_tables as tables
from .duplicates import LEVELS, Group, find_groups, update_pairs
from .layout import MapLayout, update_map
from .space import VectorSpace
from .tags import TagReport, update_tags
from .themes import Themes, ThemeSummary, summarise, update_themes
from .trash import TrashReport, move_to_trash

if TYPE_CHECKING:
    from ...context import AppContext
    from ...engine import Engine, JobContext
    from ...models import ModelRegistry
    from ..photo_library import Library


def submit_tag_update(ctx: "AppContext", model_id: Optional[str] = None,
                      on_event: Optional[EventCallback] = None) -> JobHandle:
    """`tag_library` with the context's engine, registry and library (the CLI's and pages' way)."""
    return tag_library(ctx.engine, ctx.registry, ctx.library, model_id, on_event)


def tag_library(engine: "Engine", registry: "ModelRegistry", library: "Library", model_id: Optional[str] = None,
                on_event: Optional[EventCallback] = None) -> JobHandle:
    """Bring every tag up to date (new pictures scored, changed tags recalibrated), BACKGROUND."""
    installed = registry.resolve("clip", model_id)  # MissingModelError says what to install

    def run(job: "JobContext") -> TagReport:
        with clip_in_job(job, installed) as clip:
            return update_tags(library, installed.id, clip.encode_text, job.checkpoint)

    return engine.submit(run, priority=Priority.BACKGROUND, name="Tag pictures", kind="tags", on_event=on_event)


def add_tags(ctx: "AppContext", labels: Sequence[str], group: Optional[str] = None,
             examples: Sequence[Path] = (), model_id: Optional[str] = None) -> list[tables.Tag]:
    """`create_tags` with the context's engine, registry and library."""
    return create_tags(ctx.engine, ctx.registry, ctx.library, labels, group, examples, model_id)


def create_tags(engine: "Engine", registry: "ModelRegistry", library: "Library", labels: Sequence[str],
                group: Optional[str] = None, examples: Sequence[Path] = (),
                model_id: Optional[str] = None) -> list[tables.Tag]:
    """Add tags (each with the same example pictures, if any); their scores come with the next
    tag update. Nothing is added when an example cannot be read. Blocks while the examples are
    encoded (a FOREGROUND job): call it off the GUI thread."""
    installed = registry.resolve("clip", model_id)  # MissingModelError says what to install
    missing = [str(p) for p in examples if not Path(p).expanduser().is_file()]
    if missing:
        raise FileNotFoundError(f"no such example picture: {', '.join(missing)}")
    known = {t.label.lower() for t in tables.tags(library.store)}
    taken = [label for label in labels if " ".join(label.split()).lower() in known]
    if taken:
        raise ValueError(f"there is already a tag {taken[0]!r}")
    vectors = []
    if examples:
        def encode(job: "JobContext") -> list:
            with clip_in_job(job, installed) as clip:
                return [image_query_vector(library, clip, installed.id, Path(p).expanduser()) for p in examples]

        vectors = engine.submit(encode, priority=Priority.FOREGROUND, name="Read tag examples",
                                kind="tags").result()
    added = [tables.add_tag(library.store, label, group) for label in labels]
    for tag in added:
        for path, vector in zip(examples, vectors):
            tables.add_example(library.store, tag, os.path.abspath(Path(path).expanduser()), installed.id, vector)
    return added


def remove_tag(ctx: "AppContext", label: str) -> None:
    tables.remove_tag(ctx.library.store, label)


def mark_tag(ctx: "AppContext", path: Path, label: str, verdict: Optional[int]) -> None:
    """Confirm (tables.CONFIRMED), reject (tables.REJECTED) or forget (None) a tag on a picture."""
    library = ctx.library
    row = library.store.image_by_path(os.path.abspath(Path(path).expanduser()))
    if row is None or not row.hash:
        raise ValueError(f"{path} is not a picture in the library")
    tables.set_mark(library.store, tables.tag_by_label(library.store, label), row.hash, verdict)


def submit_duplicates(ctx: "AppContext", levels: Sequence[str] = LEVELS, model_id: Optional[str] = None,
                      on_event: Optional[EventCallback] = None) -> JobHandle:
    """`find_duplicates` with the context's engine, registry and library."""
    return find_duplicates(ctx.engine, ctx.registry, ctx.library, levels, model_id, on_event)


def find_duplicates(engine: "Engine", registry: "ModelRegistry", library: "Library",
                    levels: Sequence[str] = LEVELS, model_id: Optional[str] = None,
                    on_event: Optional[EventCallback] = None) -> JobHandle:
    """Update the close pairs (incrementally) and return the groups of these levels, BACKGROUND."""
    installed = registry.resolve("clip", model_id)

    def run(job: "JobContext") -> list[Group]:
        update_pairs(library, installed.id, job.checkpoint)
        return find_groups(library, tuple(levels))

    return engine.submit(run, priority=Priority.BACKGROUND, name="Find duplicates", kind="duplicates",
                         on_event=on_event)


def trash_pictures(ctx: "AppContext", paths: Sequence[str]) -> TrashReport:
    """Move these library pictures to the system trash (the user asked for it, picture by picture)."""
    return move_to_trash(ctx.library, paths)


def submit_themes(ctx: "AppContext", folder: Optional[Path] = None, refit: bool = False,
                  model_id: Optional[str] = None, on_event: Optional[EventCallback] = None) -> JobHandle:
    """`find_themes` with the context's engine, registry and library."""
    return find_themes(ctx.engine, ctx.registry, ctx.library, folder, refit, model_id, on_event)


def find_themes(engine: "Engine", registry: "ModelRegistry", library: "Library", folder: Optional[Path] = None,
                refit: bool = False, model_id: Optional[str] = None,
                on_event: Optional[EventCallback] = None) -> JobHandle:
    """The library's themes (or the themes of the pictures under `folder`): names, counts and
    representative pictures, BACKGROUND."""
    installed = registry.resolve("clip", model_id)

    def run(job: "JobContext") -> list[ThemeSummary]:
        with clip_in_job(job, installed) as clip:
            themes = update_themes(library, installed.id, clip.encode_text, refit, job.checkpoint)
        return summarise(library, installed.id, themes, folder)

    return engine.submit(run, priority=Priority.BACKGROUND, name="Find themes", kind="themes", on_event=on_event)


@dataclass
class MapPoints:
    layout: MapLayout
    themes: Themes
    theme_of: "np.ndarray"  # per layout point: index into themes.names
    rows: list  # per layout point: its ImageRow (None when it left the library meanwhile)
    tags: dict  # image id → its tags, best first
    tag_labels: list = field(default_factory=list)  # every tag of the library, carried by a picture or not


def submit_map(ctx: "AppContext", method: Optional[str] = None, refit: bool = False,
               model_id: Optional[str] = None, on_event: Optional[EventCallback] = None) -> JobHandle:
    """`draw_map` with the context's engine, registry and library."""
    return draw_map(ctx.engine, ctx.registry, ctx.library, method, refit, model_id, on_event)


def draw_map(engine: "Engine", registry: "ModelRegistry", library: "Library", method: Optional[str] = None,
             refit: bool = False, model_id: Optional[str] = None,
             on_event: Optional[EventCallback] = None) -> JobHandle:
    """The map brought up to date (incrementally), with each point's theme, BACKGROUND."""
    installed = registry.resolve("clip", model_id)

    def run(job: "JobContext") -> MapPoints:
        with clip_in_job(job, installed) as clip:
            themes = update_themes(library, installed.id, clip.encode_text, checkpoint=job.checkpoint)
        layout = update_map(library, installed.id, method, refit, job.checkpoint)
        space = VectorSpace.of(library, installed.id)
        theme_of = np.concatenate([themes.assign(v) for _, v in _chunks(space, layout.ids)] or [np.empty(0, np.int64)])
        found = library.store.images_by_ids(layout.ids.tolist())
        ids = layout.ids.tolist()
        return MapPoints(layout, themes, theme_of, [found.get(i) for i in ids], tables.tags_of_images(library.store, ids),
                         [t.label for t in tables.tags(library.store)])

    return engine.submit(run, priority=Priority.BACKGROUND, name="Draw the map", kind="map", on_event=on_event)


def _chunks(space: VectorSpace, ids: "np.ndarray", rows: int = 50_000):
    for start in range(0, len(ids), rows):
        yield space.vectors(ids[start:start + rows])
