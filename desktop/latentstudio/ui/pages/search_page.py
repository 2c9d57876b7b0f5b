"""The Search page: search as you type, by example image, with filters; library folders and indexing."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QScrollArea,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from ...engine import EventKind, JobEvent, JobHandle
from ...imagegen.metadata import read_reading
from ...library import (
    Library,
    SearchHit,
    SearchRequest,
    submit_search,
    submit_warmup,
)
from ...library.search import SearchFilters, pictures_passing
from ...library.store import analysis_tables as tag_tables
from ...library.analysis.service import add_tags, mark_tag, remove_tag, submit_tag_update
from ...library.controller import FOLDER, SCAN, FolderChange, LibraryController
from ...library.scan import ScanReport
from ...models.text_encoding.encoder import LOADING_MESSAGE
from ...library.thumbnails import ensure_thumbnail
from ...units import counted, format_duration
from ..background import run_in_background
from ..file_actions import copy_image, copy_path, open_file, open_video_at, reveal
from ..widgets.search_drop_zone import SearchDropZone
from ..widgets.search_filters import SearchFiltersPanel
from ..widgets.library_health import LibraryHealthDialog, read_health
from ..widgets.search_folders import SearchFoldersPanel
from ..widgets.side_section import SideSection, panel_toggle
from ..widgets.search_results import ICON_SIZE, SearchResultsModel, SearchResultsView
from ..widgets.tag_panel import TagPanel
from ..widgets.thumbnail_grid import thumbnail_slider
from ..widgets.thumbnail_loader import ThumbnailLoader
from .needs_model import NeedsModelPage

log = logging.getLogger(__name__)

DEBOUNCE_MS = 250
RESULT_LIMIT = 5000
LOADING_TICK_MS = 1000
OPENING_LIBRARY = "Opening the library…"
COUNTS_WHILE_INDEXING_MS = 1000  # folder counts re-read while indexing runs (in the background)


def carries_settings(path: Path) -> bool:
    """Whether a picture's metadata holds generation settings (any tool's; hidden pixel bits are
    not decoded: this runs as a menu opens)."""
    return read_reading(path, stealth=False).metadata is not None


class SearchPage(NeedsModelPage):
    kind = "clip"

    def build_content(self) -> QWidget:
        self._search_handle: Optional[JobHandle] = None
        self._search_filters = SearchFilters()  # the latest query's
        self._search_started = 0.0
        self._warmup_handle: Optional[JobHandle] = None
        self._loading_since: Optional[float] = None  # the search model is loading since then
        self._index_where: dict[int, str] = {}  # index job id -> " on the cluster at …" or ""
        self._started = False
        self._pictures = 0  # searchable (indexed) in the library folders, as last counted
        self._waiting = 0  # found, not indexed yet

        self.query = QLineEdit()
        self.query.setObjectName("search-query")
        self.query.setPlaceholderText('Describe a picture… e.g. "beach at sunset -people"')
        self.query.setClearButtonEnabled(True)
        self.query.setToolTip(
            "Finds what pictures show and what their files say (names, prompts, descriptions).\n"
            '-word (or the Not filter) leaves a word out; a "quoted phrase" must be in the file\'s words (Ctrl+F).'
        )
        self.drop_zone = SearchDropZone()
        self.summary = QLabel("")
        self.summary.setObjectName("search-summary")
        self.loader = ThumbnailLoader(size=ICON_SIZE, parent=self,
                                      make=partial(ensure_thumbnail, self.ctx.paths.thumbnails))
        self.results_model = SearchResultsModel(self.loader, self)
        self.results = SearchResultsView()
        self.results.setModel(self.results_model)
        self._show_empty_state()
        self.filters = SearchFiltersPanel(self.ctx.settings.search_min_score)
        self.folders = SearchFoldersPanel()
        self.tag_panel = TagPanel()

        left = QWidget()
        left_layout = QVBoxLayout(left)
        self.thumb_size = thumbnail_slider(64, ICON_SIZE, "thumbnail-size")
        self.thumb_size.valueChanged.connect(self.results.set_thumbnail_size)
        self.side_toggle = panel_toggle("side-panel", "Filters and folders",
                                        "Show or hide the filters and the library folders")
        top = QHBoxLayout()
        top.addWidget(self.query, 1)
        top.addWidget(self.side_toggle)
        info = QHBoxLayout()
        info.addWidget(self.summary, 1)
        info.addWidget(QLabel("Size"))
        info.addWidget(self.thumb_size)
        left_layout.addLayout(top)
        left_layout.addWidget(self.drop_zone)
        left_layout.addLayout(info)
        left_layout.addWidget(self.results, 1)
        sections = QWidget()
        sections_layout = QVBoxLayout(sections)
        sections_layout.setContentsMargins(0, 0, 8, 0)
        sections_layout.addWidget(SideSection("filters", "Filters", self.filters,
                                              "Leave out words, folders, dates, types and small pictures"))
        sections_layout.addWidget(SideSection("tags", "Tags", self.tag_panel,
                                              "Tags found from words and examples; tick some to show only those"))
        sections_layout.addWidget(SideSection("folders", "Library folders", self.folders,
                                              "The folders that are searched"))
        sections_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(sections)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(scroll, 1)
        right_layout.addWidget(self.folders.footer)
        # The sections scroll up and down, never sideways: the panel is as wide as their widest row.
        right.setMinimumWidth(sections.minimumSizeHint().width()
                              + scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent))
        right.setMaximumWidth(420)  # the results take the rest of a wide window
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([900, 360])
        self.side_panel = right
        self.side_toggle.toggled.connect(right.setVisible)
        content = QWidget()
        QHBoxLayout(content).addWidget(splitter)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.run_search)
        self.query.textChanged.connect(lambda _: self._debounce.start())
        self.query.returnPressed.connect(self.run_search)
        self.filters.changed.connect(self._debounce.start)
        self.drop_zone.imageChosen.connect(lambda _: self.run_search())
        self.drop_zone.cleared.connect(self.run_search)
        self.results.activatedHit.connect(self.open_hit)
        self.results.customContextMenuRequested.connect(self._context_menu)

        self.tag_panel.filterChanged.connect(self.run_search)
        self.tag_panel.addRequested.connect(self.add_tag)
        self.tag_panel.removeRequested.connect(self.remove_tag)
        self.folders.addRequested.connect(lambda path: self.add_folder(Path(path)))
        self.folders.removeRequested.connect(lambda path: self.remove_folder(Path(path)))
        self.folders.rescanRequested.connect(self.rescan)
        self.folders.cancelRequested.connect(self.controller.cancel)
        self.folders.detailsRequested.connect(self.show_library_health)
        self.bridge.jobEvent.connect(self._library_event)
        self._loading_tick = QTimer(self)
        self._loading_tick.setInterval(LOADING_TICK_MS)
        self._loading_tick.timeout.connect(self._show_loading)
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(COUNTS_WHILE_INDEXING_MS)
        self._counts_timer.timeout.connect(self.refresh_folders)
        return content

    # -- lifecycle --------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if not self._started:
            self._started = True
            self.refresh_folders()
            self.refresh_tags()

    def refresh_models(self) -> None:
        had = self._stack.currentIndex() == 1 if hasattr(self, "_stack") else False
        super().refresh_models()
        if self.has_model and not had and self._started:
            self.rescan()  # what waited for a model is indexed now

    @property
    def library(self) -> Library:
        return self.ctx.library

    @property
    def controller(self) -> LibraryController:
        """The library's owner: it scans, indexes and watches; this page shows what it does."""
        return self.ctx.library_controller

    def warm_up(self) -> None:
        """Right after the first paint: load the search model and the vectors (when the library
        has some), so the first query answers as soon as it is typed."""
        if not self.has_model or self._warmup_handle is not None:
            return
        try:
            self._warmup_handle = submit_warmup(self.ctx)
        except Exception:  # no model after all, engine stopping: the first search loads it
            log.exception("search model warm-up could not start")
            return
        self._loading_since = time.perf_counter()
        self.bridge.watch(self._warmup_handle, self._warmup_event)

    def _warmup_event(self, event: JobEvent) -> None:
        if event.kind.final:
            self._loading_since = None
            self._loading_tick.stop()

    def _show_loading(self) -> None:
        """Show "Loading the search model… N s" while a search waits for it."""
        searching = self._search_handle is not None and not self._search_handle.done()
        if self._loading_since is None or not searching:
            self._loading_tick.stop()
            return
        waited = max(1, round(time.perf_counter() - self._loading_since))
        self.summary.setText(f"{LOADING_MESSAGE}… {waited} s")
        if not self._loading_tick.isActive():
            self._loading_tick.start()

    # -- search -----------------------------------------------------------------------------

    def run_search(self) -> None:
        self._debounce.stop()
        text = self.query.text().strip()
        image = self.drop_zone.image
        tags = self.tag_panel.ticked()
        if not text and image is None and not tags and not self.filters.narrows():
            self.results_model.set_hits([])
            self.summary.setText("")
            self._show_empty_state()
            return
        if not self.has_model:
            return
        min_score = round(self.filters.min_score.value(), 2)
        if min_score != self.ctx.settings.search_min_score:
            self.ctx.settings.update(search_min_score=min_score)
            try:
                self.ctx.save_settings()
            except OSError as exc:  # unwritable, or a newer release's file: search all the same
                log.warning("minimum score not saved: %s", exc)
        text_weight, image_weight = self.filters.weights() if text and image else (1.0, 1.0)
        request = SearchRequest(
            text=text or None,
            image=image,
            negative=self.filters.negative.text() or None,
            text_weight=text_weight,
            image_weight=image_weight,
            limit=RESULT_LIMIT,
            min_score=min_score,
            filters=replace(self.filters.filters(), tags=tags),
        )
        if self._search_handle is not None and not self._search_handle.done():
            self._search_handle.cancel()
        try:
            handle = submit_search(self.ctx, request)
        except Exception as exc:  # no model, engine stopping: shown as state, not a dialog
            log.exception("search could not start")
            self.summary.setText(f"Search failed: {exc}")
            return
        self._search_handle = handle
        self._search_filters = request.filters
        self.bridge.watch(handle, self._job_event)
        self._search_started = time.perf_counter()
        self.summary.setText("Searching…")
        self._show_loading()

    def search_by_image(self, path: Path) -> None:
        """More like this: search the library for images similar to `path`."""
        self.requests.showPage.emit("search")
        self.query.blockSignals(True)
        self.query.clear()
        self.query.blockSignals(False)
        self.drop_zone.set_image(Path(path))
        self.run_search()

    def _search_finished(self, handle: JobHandle, event: JobEvent) -> None:
        if handle is not self._search_handle:
            return  # an older query answered after a newer one was sent
        self._loading_tick.stop()
        if self._warmup_handle is None or self._warmup_handle.done():
            self._loading_since = None
        if event.kind is EventKind.FAILED:
            self.summary.setText(f"Search failed: {event.payload}")
            return
        if event.kind is EventKind.CANCELLED:
            return
        hits: list[SearchHit] = event.payload or []
        elapsed = (time.perf_counter() - self._search_started) * 1000
        self.results_model.set_hits(hits)
        self.results.scrollToTop()  # a new answer starts at its best match, never mid-list
        listed = not self.query.text().strip() and self.drop_zone.image is None and not self.tag_panel.ticked()
        more = "+" if len(hits) >= RESULT_LIMIT else ""
        if listed:  # no query: the pictures the filters let through
            self.summary.setText(f"{len(hits)}{more} pictures, newest first · {elapsed:.0f} ms" if hits else
                                 "No pictures pass the filters.")
        elif hits:
            best = max(hit.score for hit in hits)  # the first hit may have matched by its words
            self.summary.setText(f"{counted(len(hits), 'picture')}{more} · best {best:.2f} · {elapsed:.0f} ms")
        elif self._search_filters != SearchFilters():
            self._explain_nothing(handle, self._search_filters)
        else:
            self._show_nothing(filtered_out=False)

    def _explain_nothing(self, handle: JobHandle, filters: SearchFilters) -> None:
        """Nothing found with filters on: whether the filters or the cut-off left nothing is
        asked in the background (it reads the vectors)."""
        ctx = self.ctx
        model = ctx.registry.default("clip")
        if model is None:
            return

        def show(passing: int) -> None:
            if handle is self._search_handle:  # still the latest query
                self._show_nothing(filtered_out=passing == 0)

        run_in_background(lambda: pictures_passing(ctx.library, model.id, filters), show,
                          lambda exc: self._show_nothing(filtered_out=False))

    def _show_nothing(self, filtered_out: bool) -> None:
        if filtered_out:
            self.summary.setText("No picture passes the filters. Widen or clear them (folder, dates, type, "
                                 "size, tags).")
            self.results.setPlaceholderText("The filters leave no pictures to search. Widen or clear them.")
            return
        self.summary.setText(
            f"No pictures score above {self.filters.min_score.value():.2f}. "
            "Try other words, or lower the minimum score."
        )
        self.results.setPlaceholderText("No pictures match. Try other words, lower the minimum "
                                        "score, or clear the filters.")

    def _show_empty_state(self) -> None:
        """What the empty results grid says to do next."""
        if self._pictures:
            text = (f"Describe a picture above, or drop an example picture, to search "
                    f"{counted(self._pictures, 'picture')}.")
        elif self._waiting:
            text = f"{counted(self._waiting, 'picture')} waiting to be indexed: they can be searched once indexed."
        else:
            text = "No pictures yet. Add a folder of pictures under Library folders, then describe what you are looking for."
        self.results.setPlaceholderText(text)

    # -- folders and indexing ---------------------------------------------------------------

    def refresh_folders(self) -> None:
        """Folder counts are read off the GUI thread (they cost more as the library grows), and so
        is the first opening of the library, which may migrate it."""
        ctx = self.ctx
        if not ctx.library_opened:
            self.folders.show_busy(OPENING_LIBRARY)

        def read() -> dict:
            library = ctx.library  # opening it checks it, and rebuilds a damaged one
            recovery = library.take_recovery()
            return {**library.store.status(), "recovery": recovery.describe() if recovery else None}

        run_in_background(read, self._show_folders,
                          lambda exc: self.folders.show_done(f"Could not open the library: {exc}"))

    def _show_folders(self, status: dict) -> None:
        if status.get("recovery"):
            self.folders.show_notice(status["recovery"])
            self.summary.setText("The library database was damaged and has been rebuilt: see Library folders.")
        if self.folders.status.text() == OPENING_LIBRARY:
            self.folders.show_done("")
        self.folders.set_folders(status["folders"])
        self._pictures = sum(folder["indexed"] for folder in status["folders"])  # searchable ones only
        self._waiting = sum(folder["pending"] for folder in status["folders"])
        if not self.query.text().strip() and self.drop_zone.image is None:
            self._show_empty_state()
        self.filters.set_folders([Path(f["path"]) for f in status["folders"]])

    def show_library_health(self) -> LibraryHealthDialog:
        """The skipped files with why, and the waiting ones, in a dialog (read in the background)."""
        ctx = self.ctx
        model = ctx.registry.default("clip")
        dialog = LibraryHealthDialog(lambda: read_health(ctx.library.store, model.id if model else None), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def add_folder(self, path: Path) -> None:
        if self.controller.add_folder(path) is not None:
            self.folders.show_busy(f"Adding {path}…")

    def remove_folder(self, path: Path) -> None:
        if self.controller.remove_folder(path) is not None:
            self.folders.show_busy(f"Removing {path} from the library…")

    def rescan(self) -> None:
        """Look for new, changed, moved and removed pictures now (the controller scans)."""
        self.controller.rescan()

    def _library_event(self, event: JobEvent) -> None:
        """The controller's folder work and every index and tag job, shown in the folder panel."""
        handle = event.handle
        if handle is None:
            return
        if handle.kind == SCAN:
            self._scan_event(event)
        elif handle.kind == FOLDER:
            self._folder_event(event)
        elif handle.kind == "index":
            self._index_event(event)
        elif handle.kind == "tags":
            self._tags_event(event)

    def _scan_event(self, event: JobEvent) -> None:
        if event.kind is EventKind.STARTED:
            self.folders.show_busy("Looking for new and changed pictures…")
        elif event.kind is EventKind.PROGRESS:
            self.folders.show_progress(event.payload)
        elif event.kind is EventKind.FINISHED:
            report: ScanReport = event.payload
            self.refresh_folders()
            text = (f"Scan: {report.new} new · {report.changed} changed · {report.moved} moved · "
                    f"{report.removed} removed · {len(report.skipped)} unreadable")
            if report.missing_folders:
                text += f" · not found: {', '.join(report.missing_folders)}"
            self.folders.show_done(text)
            if report.removed or report.moved:
                self.run_search()
        elif event.kind is EventKind.FAILED:
            self.folders.show_done(f"Scan failed: {event.payload}")
        elif event.kind is EventKind.CANCELLED:
            self.folders.show_done("Scan stopped; Rescan looks again.")
            self.refresh_folders()

    def _folder_event(self, event: JobEvent) -> None:
        if event.kind is EventKind.FAILED:
            self.folders.show_done(f"{event.handle.name} failed: {event.payload}")
            return
        if event.kind is not EventKind.FINISHED:
            return
        change = event.payload
        self.refresh_folders()
        if not isinstance(change, FolderChange):  # folders restored from Settings
            return
        if change.refused:
            self.folders.show_done(f"Could not add {change.path}: {change.refused}")
        elif not change.added:
            self.folders.show_done(f"Removed {change.path} ({counted(change.removed, 'image')}) from the library; "
                                   "files are untouched.")
            self.run_search()

    def _index_event(self, event: JobEvent) -> None:
        handle = event.handle
        plan = self.controller.index
        if handle.id not in self._index_where:  # its first event: where it encodes is known by now
            ours = plan.handle is handle or plan.handle is None
            self._index_where[handle.id] = plan.where if ours else ""
            if ours and plan.fallback:
                self.summary.setText(f"Indexing on this computer: {plan.fallback}")
        where = self._index_where[handle.id]
        if event.kind in (EventKind.QUEUED, EventKind.STARTED):
            self.folders.show_busy(f"Indexing{where}…")
        elif event.kind is EventKind.PROGRESS:
            self.folders.show_progress(event.payload, where=where)
            if not self._counts_timer.isActive():  # the folder counts follow the bar, at most once a second
                self._counts_timer.start()
        elif event.kind is EventKind.FINISHED:
            report = event.payload
            self.folders.show_done(
                f"Indexed {counted(report.encoded, 'picture')}{where}"
                + (f" · {len(report.skipped)} unreadable" if report.skipped else "")
            )
            self.refresh_folders()
            self.run_search()
        elif event.kind is EventKind.FAILED:
            self.folders.show_done(f"Indexing failed: {event.payload}")
        elif event.kind is EventKind.CANCELLED:
            self.folders.show_done("Indexing stopped; Rescan resumes it.")
            self.refresh_folders()

    def _job_event(self, event: JobEvent) -> None:
        if event.handle is None:
            return
        if event.handle.kind == "search":
            if event.kind.final:
                self._search_finished(event.handle, event)
            elif event.kind is EventKind.PROGRESS and event.payload.message == LOADING_MESSAGE:
                if self._loading_since is None:  # no warm-up: this search loads the model itself
                    self._loading_since = time.perf_counter()
                self._show_loading()

    # -- result actions ---------------------------------------------------------------------

    def open_file(self, path: Path) -> None:
        problem = open_file(path)
        if problem:
            self.summary.setText(problem)

    def open_hit(self, hit: SearchHit) -> None:
        """Open a result; a video found at a moment starts there where the player allows."""
        if hit.kind == "video" and hit.time is not None:
            problem = open_video_at(hit.path, hit.time)
            if problem:
                self.summary.setText(problem)
        else:
            self.open_file(hit.path)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.results.indexAt(pos)
        if not index.isValid():
            return
        self.result_menu(self.results_model.hit(index.row())).exec(self.results.viewport().mapToGlobal(pos))

    def result_menu(self, hit: SearchHit) -> QMenu:
        """What can be done with one result: open, reveal, copy, search, and hand it to the Image page."""
        menu = QMenu(self)
        video = hit.kind == "video"
        if video and hit.time is not None:
            menu.addAction(f"Play from {format_duration(hit.time)}", lambda: self.open_hit(hit))
            menu.addAction("Play from the start", lambda: self.open_file(hit.path))
        else:
            menu.addAction("Open", lambda: self.open_file(hit.path))
        if hit.companion is not None:
            menu.addAction(f"Open {hit.companion.name}", lambda: self.open_file(hit.companion))
        menu.addAction("Reveal in folder", lambda: self.summary.setText(reveal(hit.path) or self.summary.text()))
        menu.addAction("Copy path", lambda: copy_path(hit.path))
        menu.addAction("Copy frame" if video else "Copy image",
                       lambda: self.summary.setText(copy_image(hit.path, hit.thumbnail) or self.summary.text()))
        menu.addAction("More like this", lambda: self.search_by_image(hit.path))
        if self.ctx.registry.default("diffusion") is not None and not video:
            menu.addAction("Use as init image", lambda: self.requests.useAsInitImage.emit(hit.path))
            if hit.generated or carries_settings(hit.path):  # ours, or another tool's (A1111, ComfyUI…)
                menu.addAction("Reuse its settings", lambda: self.requests.reuseSettings.emit(hit.path))
            menu.addAction("Describe as prompt", lambda: self.requests.describePicture.emit(hit.path))
        self._tag_menu(menu.addMenu("Tags"), hit)
        return menu

    # -- tags -------------------------------------------------------------------------------

    def refresh_tags(self) -> None:
        """Tags and their counts, read in the background (the counts grow with the library)."""
        ctx = self.ctx

        def read() -> list:
            store = ctx.library.store
            counts = tag_tables.tag_counts(store)
            return [(t.label, t.group, counts.get(t.id, 0)) for t in tag_tables.tags(store)]

        run_in_background(read, self.tag_panel.set_tags, lambda exc: log.warning("tags not read: %s", exc))

    # Tag edits write to the database (and read example pictures): off the GUI thread, with the
    # outcome said in the summary line.

    def add_tag(self, label: str, group: str) -> None:
        ctx = self.ctx

        def add() -> None:
            add_tags(ctx, [label], group or None)
            submit_tag_update(ctx)

        self.summary.setText(f"Adding the tag “{label}”…")
        run_in_background(add, lambda _: self._tag_added(label),
                          lambda exc: self.summary.setText(f"Could not add the tag: {exc}"))

    def _tag_added(self, label: str) -> None:
        if self.tag_panel.new_tag.text().strip() == label:
            self.tag_panel.new_tag.clear()
        self.summary.setText(f"Tagging pictures with “{label}”…")
        self.refresh_tags()

    def remove_tag(self, label: str) -> None:
        ctx = self.ctx
        run_in_background(lambda: remove_tag(ctx, label), lambda _: self._tag_removed(),
                          lambda exc: self.summary.setText(str(exc)))

    def _tag_removed(self) -> None:
        self.refresh_tags()
        self.run_search()

    def _tags_event(self, event: JobEvent) -> None:
        """Any tag job (the page's own, or the controller's after indexing) ends: counts and
        results follow."""
        if event.kind is EventKind.FINISHED:
            self.refresh_tags()
            self.run_search()
        elif event.kind is EventKind.FAILED:
            self.summary.setText(f"Tagging failed: {event.payload}")

    def _tag_menu(self, menu: QMenu, hit: SearchHit) -> None:
        """Confirm or reject the picture's tags; give it another one, existing or new."""
        labels = [t.label for t in tag_tables.tags(self.library.store)]
        for label in hit.tags:
            menu.addAction(f"Confirm “{label}”", lambda label=label: self.mark_tag(hit, label, tag_tables.CONFIRMED))
            menu.addAction(f"Reject “{label}”", lambda label=label: self.mark_tag(hit, label, tag_tables.REJECTED))
        if hit.tags:
            menu.addSeparator()
        others = [label for label in labels if label not in hit.tags]
        menu.addAction("Add tag…", lambda: self.ask_tag_for(hit, others))

    def ask_tag_for(self, hit: SearchHit, others: list[str]) -> None:
        """A tag for this picture: one of the others or a new word (added, then confirmed here)."""
        label, ok = QInputDialog.getItem(self, "Add tag", f"Tag for {hit.path.name} (pick one or type a new one):",
                                         others, 0, True)
        label = " ".join(label.split())
        if ok and label:
            self.tag_picture(hit, label)

    def tag_picture(self, hit: SearchHit, label: str) -> None:
        """Confirm `label` on the picture, adding the tag first when it is new."""
        ctx = self.ctx

        def tag() -> None:
            known = {t.label.lower(): t.label for t in tag_tables.tags(ctx.library.store)}
            if label.lower() not in known:
                add_tags(ctx, [label])
            mark_tag(ctx, hit.path, known.get(label.lower(), label), tag_tables.CONFIRMED)
            submit_tag_update(ctx)

        run_in_background(tag, lambda _: self._tagged(hit, label),
                          lambda exc: self.summary.setText(f"Could not add the tag: {exc}"))

    def _tagged(self, hit: SearchHit, label: str) -> None:
        self.summary.setText(f"Tagged {hit.path.name} “{label}”; re-tagging…")
        self.refresh_tags()

    def mark_tag(self, hit: SearchHit, label: str, verdict: int) -> None:
        """Record the correction, then re-tag (the tag learns from it) and search again."""
        ctx = self.ctx

        def mark() -> None:
            mark_tag(ctx, hit.path, label, verdict)
            submit_tag_update(ctx)

        done = f"{'Confirmed' if verdict == tag_tables.CONFIRMED else 'Rejected'} “{label}” on {hit.path.name}; re-tagging…"
        run_in_background(mark, lambda _: self.summary.setText(done),
                          lambda exc: self.summary.setText(f"Could not change the tag: {exc}"))
