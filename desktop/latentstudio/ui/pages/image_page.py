"""The Image page: prompt, settings, Generate (queued), live preview, queue, gallery of results.

Upscale… runs the chosen result (or an opened picture) through an upscaler model, with the same
preview, progress and Cancel as a generation.

The prompt box has help on the local language model (Translate to English, Expand: streamed in,
one Ctrl+Z restores the prompt before), a strip of the library pictures nearest to the words,
and pictures (gallery items, dropped files) can be described as prompts with CLIP.

The page follows its jobs through the window's event bridge, so every widget change happens in
the GUI thread and agrees with the Jobs panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from ...engine import EventKind, JobEvent, JobHandle, Progress
from ...imagegen.clip_score import SCORE_GUIDE
from ...imagegen.describe import Description, submit_describe
from ...imagegen.form_state import FORM_FILE, load_form, save_form
from ...imagegen.adapters import reuse_addons
from ...imagegen.presets import FastPreset, preset_for
from ...imagegen.generate import JOB_KIND, GeneratedImage
from ...imagegen.loading import PipelineLoadError, variant_of
from ...imagegen.service import submit_images, submit_upscales
from ...imagegen.upscale import TilePreview, UpscaledImage, UpscaleRequest
from ...imagegen.metadata import ImageMetadata, read_metadata, read_reading
from ...imagegen.request import FILE_FORMATS
from ...imagegen.preview import StepPreview
from ...imagegen.prompt_help import PromptHelpResult, get_prompt_task, submit_prompt_help
from ...library.decode import DecodeError
from ...library.scan import IMAGE_SUFFIXES
from ...models import MissingModelError, ModelNotFoundError
from ...units import counted
from ..background import run_in_background
from ..file_actions import reveal
from ..widgets.addon_picker import AddonPicker
from ..widgets.token_counter import TokenCounter
from ..widgets.image_gallery import ImageGallery, thumbnail_for
from ..widgets.side_section import panel_toggle
from ..widgets.image_preview import ImagePreview
from ..widgets.image_queue import ImageQueue
from ..widgets.image_settings import ImageSettingsPanel
from ..widgets.mask_painter import MaskDialog
from ..widgets.prompt_strip import PromptStrip
from ..widgets.upscale_dialog import UpscaleDialog
from .needs_model import NeedsModelPage

RECENT_OUTPUTS = 40
HELP_BUTTONS = {"translate": "To English", "expand": "Expand"}  # short: the form column is narrow


def describe(meta: Optional[ImageMetadata], path: Path) -> str:
    if meta is None:
        return f"{path.name}\n(no generation settings stored)"
    lines = [meta.prompt or "(no prompt)"]
    if meta.negative_prompt:
        lines.append(f"Negative: {meta.negative_prompt}")
    settings = [
        f"Seed {meta.seed}" if meta.seed is not None else "",
        counted(meta.steps, "step") if meta.steps else "",
        f"CFG {meta.guidance:g}" if meta.guidance is not None else "",
        meta.scheduler or "",
        f"{meta.width}x{meta.height}" if meta.width and meta.height else "",
        f"strength {meta.strength:g}" if meta.strength is not None else "",
        meta.model or "",
    ]
    lines.append(" · ".join(s for s in settings if s))
    lines.append(str(path))
    return "\n".join(lines)


def _load_result(path: Path) -> tuple[Path, Any, str, Optional[float]]:
    """Thumbnail, description and CLIP score of one image (runs off the GUI thread)."""
    try:
        meta = read_metadata(path)
    except ValueError:
        meta = None
    score = meta.clip_score.value if meta is not None and meta.clip_score is not None else None
    return path, thumbnail_for(path), describe(meta, path), score


class ImagePage(NeedsModelPage):
    kind = "diffusion"

    def build_content(self) -> QWidget:
        self._current: Optional[JobHandle] = None
        self._mine: set[int] = set()  # ids of the jobs this page queued
        self._batches: list[tuple[set[int], list[Path]]] = []  # multi-image runs: (open job ids, done paths)
        self._helper: Optional[JobHandle] = None  # the running prompt-help job
        self._prompt_before: Optional[str] = None  # the prompt as the user left it, while help streams in
        self._describing: Optional[JobHandle] = None
        self._described_path: Optional[Path] = None  # the picture being or last described
        self.description: Optional[Description] = None
        self._upscales: set[int] = set()  # ids of the upscale jobs this page queued
        self._opened_picture: Optional[Path] = None  # the last picture dropped or opened
        self._upscale_dialog: Optional[UpscaleDialog] = None

        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("prompt")
        self.prompt.setPlaceholderText("Describe the image… (pictures from your library like it appear below)")
        self.help_buttons: dict[str, QPushButton] = {}
        help_row = QHBoxLayout()  # the prompt's title and its helpers share one row: the form stays short
        help_row.addWidget(QLabel("Prompt"))
        self.token_counter = TokenCounter()
        help_row.addWidget(self.token_counter)
        help_row.addStretch(1)
        for name, tip in (
            ("translate", "Rewrite the prompt in English with the local language model (CLIP and Stable "
                          "Diffusion read English only). Ctrl+Z undoes it."),
            ("expand", "Add details in the style of your best-scored prompts, with the local language model. "
                       "Ctrl+Z undoes it."),
        ):
            button = QPushButton(HELP_BUTTONS[name])
            button.setObjectName(f"prompt-{name}")
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, n=name: self.prompt_help(n))
            help_row.addWidget(button)
            self.help_buttons[name] = button
        self.strip = PromptStrip(self.ctx, self.bridge)
        self.strip.initRequested.connect(self.use_as_init_image)
        self.strip.openRequested.connect(self.reveal)
        self.prompt.textChanged.connect(lambda: self.strip.text_changed(self.prompt.toPlainText()))
        self.prompt.textChanged.connect(lambda: self.token_counter.count_text(self.prompt.toPlainText()))
        self.described = QLabel()
        self.described.setObjectName("described-prompt")
        self.described.setWordWrap(True)
        self.described.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_description_button = QPushButton("Use as prompt")
        self.use_description_button.setObjectName("use-described-prompt")
        self.use_description_button.setToolTip("Put the described prompt in the prompt box (Ctrl+Z undoes it)")
        self.use_description_button.setEnabled(False)
        self.use_description_button.clicked.connect(self.use_description)
        self.close_description_button = QToolButton()
        self.close_description_button.setObjectName("close-described-prompt")
        self.close_description_button.setText("✕")
        self.close_description_button.setToolTip("Put the description away")
        self.close_description_button.setAccessibleName("Close the description")
        self.close_description_button.clicked.connect(self.clear_description)
        for widget in self._description_widgets():
            widget.setVisible(False)  # until a picture is described
        self.negative = QPlainTextEdit()
        self.negative.setObjectName("negative-prompt")
        self.negative.setPlaceholderText("Negative prompt: what to avoid")
        self.negative.setMaximumHeight(70)
        self.addons = AddonPicker()
        self.addons.embeddingChosen.connect(self._insert_embedding)
        self.settings = ImageSettingsPanel()
        self.settings.paintRequested.connect(self.paint_mask)
        self.settings.model.currentIndexChanged.connect(lambda _: self._refresh_addons())
        self.preset_hint = QLabel()
        self.preset_hint.setObjectName("fast-preset")
        self.preset_hint.setWordWrap(True)
        self.preset_button = QPushButton("Use")
        self.preset_button.setObjectName("use-fast-preset")
        self.preset_button.setToolTip("Set steps, guidance and scheduler as this few-step model needs them")
        self.preset_button.clicked.connect(self.apply_preset)
        for widget in (self.preset_hint, self.preset_button):
            widget.setVisible(False)  # until a few-step model or LoRA is chosen
        self.settings.model.activated.connect(lambda _: self.apply_preset())  # the user chose another model
        self.addons.lorasChanged.connect(self._show_preset)
        self.addons.loraPicked.connect(lambda _: self.apply_preset())  # e.g. an LCM-LoRA
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generate")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_current)
        self.status = QLabel("Drop an image here to read its settings into the form.")
        self.status.setObjectName("image-status")
        self.status.setWordWrap(True)
        # Room for two lines from the start, so a longer message never moves Generate under the mouse.
        self.status.setMinimumHeight(2 * self.status.fontMetrics().lineSpacing() + 4)
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

        form = QWidget()
        form_layout = QVBoxLayout(form)
        form_layout.addLayout(help_row)
        form_layout.addWidget(self.prompt, 1)
        form_layout.addWidget(self.strip)
        described_row = QHBoxLayout()
        described_row.addWidget(self.described, 1)
        described_row.addWidget(self.use_description_button)
        described_row.addWidget(self.close_description_button, 0, Qt.AlignmentFlag.AlignTop)
        form_layout.addLayout(described_row)
        form_layout.addWidget(QLabel("Negative prompt"))
        form_layout.addWidget(self.negative)
        form_layout.addWidget(self.addons)  # its lists say what they add: no title row
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset_hint, 1)
        preset_row.addWidget(self.preset_button)
        form_layout.addLayout(preset_row)
        form_layout.addWidget(self.settings)
        # On a short window the fields scroll rather than squash (a spin box's text cut in half);
        # Generate and the status stay in sight below them.
        fields = QScrollArea()
        fields.setObjectName("image-form")
        fields.setWidget(form)
        fields.setWidgetResizable(True)
        fields.setFrameShape(QScrollArea.Shape.NoFrame)
        fields.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        fields.setMinimumWidth(form.minimumSizeHint().width() + fields.verticalScrollBar().sizeHint().width())
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 1)
        buttons.addWidget(self.cancel_button)
        column = QWidget()
        column_layout = QVBoxLayout(column)
        margins = form_layout.contentsMargins()
        column_layout.setContentsMargins(margins.left(), 0, margins.right(), margins.bottom())
        form_layout.setContentsMargins(margins.left(), margins.top(), margins.right(), 0)
        column_layout.addWidget(fields, 1)
        column_layout.addLayout(buttons)
        column_layout.addWidget(self.status)

        self.preview = ImagePreview()
        self.progress = QProgressBar()
        self.progress.setObjectName("step-progress")
        self.progress.setFormat("%v / %m steps")
        self.settings.steps.valueChanged.connect(lambda _: self._show_idle_progress())
        self.queue = ImageQueue(JOB_KIND)
        self.gallery = ImageGallery()
        self.gallery.reuseRequested.connect(self.reuse_settings_from)
        self.gallery.initRequested.connect(self.use_as_init_image)
        self.gallery.moreLikeThisRequested.connect(self.requests.moreLikeThis)
        self.gallery.revealRequested.connect(self.reveal)
        self.gallery.describeRequested.connect(self.describe_picture)
        self.gallery.upscaleRequested.connect(self.upscale_picture)
        # Another picture chosen in the gallery: a description of the one before no longer applies.
        self.gallery.list.currentItemChanged.connect(lambda *_: self._description_for(self.gallery.current_path()))

        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.addWidget(self.preview, 1)
        middle_layout.addWidget(self.progress)
        self.gallery_toggle = panel_toggle("gallery", "Gallery", "Show or hide the gallery of generated images")
        self.gallery_toggle.toggled.connect(self.gallery.setVisible)
        self.upscale_button = QPushButton("Upscale…")
        self.upscale_button.setObjectName("upscale")
        self.upscale_button.setToolTip("Upscale the selected result, or the picture you opened, with an upscaler model")
        self.upscale_button.clicked.connect(lambda: self.upscale_picture(self.gallery.current_path() or self._opened_picture))
        queue_row = QHBoxLayout()
        queue_row.addWidget(QLabel("Queue"), 1)
        queue_row.addWidget(self.upscale_button)
        queue_row.addWidget(self.gallery_toggle)
        middle_layout.addLayout(queue_row)
        middle_layout.addWidget(self.queue)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(column)
        splitter.addWidget(middle)
        splitter.addWidget(self.gallery)
        splitter.setStretchFactor(1, 2)
        splitter.setStretchFactor(2, 1)

        self.bridge.queueChanged.connect(self._queue_changed)
        self._show_idle_progress()
        shortcuts = Qt.ShortcutContext.WidgetWithChildrenShortcut
        QShortcut(QKeySequence("Ctrl+Return"), splitter, self.generate, context=shortcuts)
        QShortcut(QKeySequence("Escape"), splitter, self.cancel_current, context=shortcuts)
        QShortcut(QKeySequence.StandardKey.Delete, self.queue.list, self.queue.cancel.click, context=shortcuts)
        self.generate_button.setToolTip("Queue the image (Ctrl+Enter)")
        self.cancel_button.setToolTip("Stop the image being made, within one step (Esc)")
        self.prompt.setToolTip("What the image shows; Ctrl+Enter generates")
        self.negative.setToolTip("What the image should avoid")
        self.setAcceptDrops(True)
        self._restore_form()
        run_in_background(self._recent_outputs, self._show_recent)
        return splitter

    # -- form ----------------------------------------------------------------------------

    @property
    def _form_file(self) -> Path:
        return self.ctx.paths.home / FORM_FILE

    def _restore_form(self) -> None:
        """The settings of the last Generate, so a restart picks up where the user left off."""
        meta = load_form(self._form_file)
        if meta is not None:
            self._fill_form(meta)

    def _fill_form(self, meta: ImageMetadata) -> list[str]:
        """Fill the form; returns the LoRAs and embeddings the settings name that are not installed."""
        reused = reuse_addons(self.ctx.registry, meta.prompt, meta.negative_prompt, meta.loras, meta.embeddings)
        self.prompt.setPlainText(reused.prompt)
        self.negative.setPlainText(reused.negative_prompt)
        self.settings.apply(meta)
        self._refresh_addons()
        self.addons.set_loras(reused.loras)
        return reused.missing

    def _refresh_addons(self) -> None:
        """Offer the LoRAs and embeddings made for the chosen model's family."""
        registry = self.ctx.registry
        family = None
        model_id = self.settings.model.currentData()
        if model_id:
            try:
                family = variant_of(registry.get(model_id))
            except (ModelNotFoundError, PipelineLoadError):
                family = None
        self.addons.set_installed(registry.list("lora"), registry.list("embedding"), family)
        self._show_preset()

    def _preset(self) -> Optional[FastPreset]:
        registry = self.ctx.registry
        model_id = self.settings.model.currentData()
        try:
            model = registry.get(model_id) if model_id else None
        except ModelNotFoundError:
            model = None
        installed = {m.id: m for m in registry.list("lora")}
        return preset_for(model, [installed[t.name] for t in self.addons.tags() if t.name in installed])

    def _show_preset(self) -> None:
        preset = self._preset()
        self.preset_hint.setText(f"Few-step model · {preset.describe()}" if preset else "")
        self.preset_hint.setToolTip(preset.note if preset else "")
        for widget in (self.preset_hint, self.preset_button):
            widget.setVisible(preset is not None)

    def apply_preset(self) -> Optional[FastPreset]:
        """Steps, guidance and scheduler for the chosen few-step model (or LoRA); None for others."""
        preset = self._preset()
        if preset is not None:
            self.settings.steps.setValue(preset.steps)
            self.settings.guidance.setValue(preset.guidance)
            self.settings.scheduler.setCurrentText(preset.scheduler)
            self.status.setText(f"{preset.describe()} ({preset.note}).")
        return preset

    def _insert_embedding(self, word: str, negative: bool) -> None:
        box = self.negative if negative else self.prompt
        text = box.toPlainText().rstrip()
        box.setPlainText(f"{text}, {word}" if text else word)

    # -- models --------------------------------------------------------------------------

    def refresh_models(self) -> None:
        super().refresh_models()
        registry = self.ctx.registry
        default = registry.default(self.kind)
        self.settings.set_models(registry.list(self.kind), default.id if default else None)
        self.settings.set_upscalers(registry.list("upscaler"))
        self._refresh_addons()

    # -- generation ----------------------------------------------------------------------

    def generate(self) -> list[JobHandle]:
        """Queue the form's request (one job per image); errors are shown, not raised."""
        prompt = " ".join(p for p in (self.prompt.toPlainText().strip(), self.addons.prompt_suffix()) if p)
        request = self.settings.request(prompt, self.negative.toPlainText().strip())
        try:
            handles = submit_images(self.ctx, request)
        except (ValueError, FileNotFoundError, MissingModelError, ModelNotFoundError) as exc:
            self.status.setText(f"Cannot generate: {exc}")
            return []
        save_form(self._form_file, request)
        self.clear_description()  # a new prompt is running: the old description has served
        self.queue.engine = self.ctx.engine
        self._mine.update(h.id for h in handles)
        if len(handles) > 1:
            self._batches.append(({h.id for h in handles}, []))
        for handle in handles:
            self.bridge.watch(handle, self._on_job_event)
        self.status.setText(f"Queued {len(handles)} image{'s' if len(handles) > 1 else ''}.")
        self.queue.refresh()
        return handles

    def _show_idle_progress(self) -> None:
        """Between images the bar shows the steps the form asks for, none done."""
        if self._current is None:
            self.progress.setRange(0, self.settings.steps.value())
            self.progress.setValue(0)

    # -- upscaling -------------------------------------------------------------------------

    def upscale_picture(self, path: Optional[Path] = None) -> Optional[UpscaleDialog]:
        """Open Upscale… for `path` (any picture can be chosen in it); Upscale queues the job."""
        if self._upscale_dialog is None:  # one dialog, kept: its model list follows the Models page
            self._upscale_dialog = UpscaleDialog(self.services, parent=self)
            self._upscale_dialog.accepted.connect(lambda: self.upscale(self._upscale_dialog.request()))
        dialog = self._upscale_dialog
        dialog.picture.setText(str(path) if path else "")
        dialog.refresh_models()
        dialog.open()
        return dialog

    def upscale(self, request: UpscaleRequest) -> Optional[JobHandle]:
        """Queue one upscale; errors are shown in the status line, not raised."""
        try:
            [handle] = submit_upscales(self.ctx, [request])
        except (ValueError, FileNotFoundError, MissingModelError, ModelNotFoundError) as exc:
            self._tell_upscale(f"Cannot upscale: {exc}")
            return None
        self.queue.engine = self.ctx.engine
        self._upscales.add(handle.id)
        self.bridge.watch(handle, self._on_upscale_event)
        self._tell_upscale(f"Queued: {handle.name}")
        self.queue.refresh()
        return handle

    def _on_upscale_event(self, event: JobEvent) -> None:
        handle, kind = event.handle, event.kind
        if handle is None or handle.id not in self._upscales:
            return
        if kind is EventKind.STARTED:
            self._current = handle  # Cancel and Esc stop it as they stop a generation
            self.cancel_button.setEnabled(True)
            self.progress.setFormat("%v / %m tiles")
            self.progress.setRange(0, 0)
            self._tell_upscale(f"{handle.name}…")
        elif kind is EventKind.PROGRESS and handle is self._current:
            progress = event.payload
            if progress.total:
                self.progress.setRange(0, int(progress.total))
                self.progress.setValue(int(progress.done))
            else:
                self._tell_upscale(f"{handle.name}: {progress.message}")
        elif kind is EventKind.PREVIEW and isinstance(event.payload, TilePreview):
            self.preview.show_array(event.payload.image)
        elif kind.final:
            self._upscales.discard(handle.id)
            if handle is self._current:
                self._current = None
                self.cancel_button.setEnabled(False)
                self.progress.setFormat("%v / %m steps")
                self._show_idle_progress()
            if kind is EventKind.FINISHED:
                self._upscaled(event.payload)
            else:
                self.preview.clear_preview()
                self._tell_upscale(f"Cancelled: {handle.name}" if kind is EventKind.CANCELLED
                                    else f"Upscale failed: {event.payload}")  # the traceback is in the log

    def _upscaled(self, result: UpscaledImage) -> None:
        self.preview.show_file(result.path)
        self._tell_upscale(f"Saved {result.path.name} ({result.scale:g}×, {result.width}×{result.height}, "
                            f"{result.seconds:.1f} s)")
        run_in_background(lambda: _load_result(result.path), self._add_to_gallery)

    def cancel_current(self) -> None:
        if self._current is not None:
            self.status.setText("Cancelling…")
            self._current.cancel()

    def _queue_changed(self) -> None:
        if self.queue.engine is not None:
            self.queue.refresh()

    def _on_job_event(self, event: JobEvent) -> None:
        handle = event.handle
        if handle is None or handle.id not in self._mine:
            return
        kind = event.kind
        if kind is EventKind.STARTED:
            self._current = handle
            self.cancel_button.setEnabled(True)
            self.progress.setRange(0, 0)  # busy until the first step (loading the model)
            self.status.setText(f"Generating: {handle.name}")
        elif kind is EventKind.PROGRESS and handle is self._current:
            progress = event.payload
            if progress.total:
                if self.progress.maximum() == 0:  # the first step: the model is loaded
                    self.status.setText(f"Generating: {handle.name}")
                self.progress.setRange(0, int(progress.total))
                self.progress.setValue(int(progress.done))
            else:
                self.progress.setRange(0, 0)  # loading the model: busy
                self.status.setText(progress.message.capitalize() + "…")
        elif kind is EventKind.PREVIEW and isinstance(event.payload, StepPreview):
            self.preview.show_array(event.payload.image)
        elif kind.final:
            self._mine.discard(handle.id)
            if handle is self._current:
                self._current = None
                self.cancel_button.setEnabled(False)
                if kind is not EventKind.FINISHED:  # no half-made picture or step count stays behind
                    self.preview.clear_preview()
                    self._show_idle_progress()
            self._batch_job_done(handle.id, event.payload.path if kind is EventKind.FINISHED else None)
            if kind is EventKind.FINISHED:
                self._finished(event.payload)
            elif kind is EventKind.CANCELLED:
                self.status.setText(f"Cancelled: {handle.name}")
            else:  # the traceback is in the log (the engine logs failed jobs)
                self.status.setText(f"Failed: {event.payload}")

    def _finished(self, result: GeneratedImage) -> None:
        self.preview.show_file(result.path)
        self.progress.setValue(self.progress.maximum())
        self.status.setText(f"Saved {result.path.name} (seed {result.seed}, {result.seconds:.1f} s)")
        run_in_background(lambda: _load_result(result.path), self._add_to_gallery)

    def _add_to_gallery(self, loaded: tuple[Path, Any, str, Optional[float]]) -> None:
        if not isValid(self.gallery):  # the window closed while the thumbnail was made
            return
        path, thumbnail, details, score = loaded
        self.gallery.add_image(path, thumbnail, details, score=score)
        for open_ids, paths in self._batches:
            if path in paths and not open_ids:
                self._rank_batch(paths)

    def _batch_job_done(self, job_id: int, path: Optional[Path]) -> None:
        for open_ids, paths in self._batches:
            if job_id in open_ids:
                open_ids.discard(job_id)
                if path is not None:
                    paths.append(path)

    def _rank_batch(self, paths: list[Path]) -> None:
        """A multi-image run is complete and in the gallery: show it best CLIP score first."""
        if not all(p in self.gallery.paths() for p in paths):
            return
        self._batches = [b for b in self._batches if b[1] is not paths]
        self.gallery.show_best(paths)
        best = self.gallery.current_path()
        if best is not None and any(s is not None for s in self.gallery.scores()):
            self.status.setText(f"Best of {len(paths)}: {best.name}. {SCORE_GUIDE}")

    # -- recent outputs --------------------------------------------------------------------

    def _recent_outputs(self) -> list[tuple[Path, Any, str, Optional[float]]]:
        outputs = self.ctx.paths.outputs
        if not outputs.is_dir():
            return []
        files = sorted(
            (p for suffix in FILE_FORMATS.values() for p in outputs.glob(f"*/*{suffix}")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        return [_load_result(path) for path in files[:RECENT_OUTPUTS]]

    def _show_recent(self, loaded: list[tuple[Path, Any, str, Optional[float]]]) -> None:
        if not loaded or not isValid(self.gallery):
            return
        known = set(self.gallery.paths())
        for path, thumbnail, details, score in loaded:
            if path not in known:
                self.gallery.add_image(path, thumbnail, details, first=False, score=score)

    # -- cross-page actions ----------------------------------------------------------------

    def reuse_settings_from(self, path: Path) -> bool:
        """Read the settings stored in an image (ours, A1111, ComfyUI, InvokeAI, Fooocus, NovelAI…) into the form."""
        path = Path(path)
        reading = read_reading(path)
        meta = reading.metadata
        if meta is None:
            self.status.setText(f"{path.name}: {reading.reason}.")
            return False
        missing = self._fill_form(meta)
        lacking = f" Not installed, so left out: {'; '.join(missing)}." if missing else ""
        self.status.setText(f"Settings read from {path.name} ({meta.tool}, {meta.found_in}).{lacking}")
        return True

    def reveal(self, path: Path) -> None:
        """Show the file in the file manager, or say here why it could not be."""
        problem = reveal(path)
        if problem:
            self.status.setText(problem)

    def card_extras(self) -> list[QWidget]:
        """Upscaling needs no image model: it stays at hand while the page asks for one."""
        self.card_upscale = QPushButton("Upscale a picture…")
        self.card_upscale.setObjectName("card-upscale")
        self.card_upscale.setToolTip("Enlarge a picture with an upscaler model (no image model needed)")
        self.card_upscale.clicked.connect(lambda: self.upscale_picture(self._opened_picture))
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.card_upscale)
        layout.addStretch(1)
        return [row]

    def _tell_upscale(self, text: str) -> None:
        """How an upscale goes, in the status line; on the card too while it hides the page's tools."""
        self.status.setText(text)
        if not self.shows_tools:
            self.card.message.setText(text)

    def paint_mask(self) -> Optional[MaskDialog]:
        """Open the mask painter on the init image; OK hands the mask and border to the form."""
        text = self.settings.init_image.text().strip()
        if not text or not Path(text).is_file():
            self.status.setText("Choose an init image first (drop one on the page, or Browse…), then paint on it.")
            return None
        painted = self.settings.painted
        try:
            dialog = MaskDialog(Path(text), self.ctx.paths.home / "masks",
                                blur=painted.blur if painted else 4,
                                masked_only=painted.masked_only if painted else False,
                                outpaint=painted.outpaint if painted else (0, 0, 0, 0),
                                mask=painted.mask if painted else None, parent=self)
        except DecodeError as exc:
            self.status.setText(f"Cannot paint on {Path(text).name}: {exc}")
            return None

        def take() -> None:
            self.settings.set_mask(dialog.result_mask)
            self.status.setText("Generate repaints what you painted (and fills the border); the rest of the "
                                "picture stays exactly as it is.")

        dialog.accepted.connect(take)
        dialog.open()
        return dialog

    def use_as_init_image(self, path: Path) -> None:
        self.settings.init_image.setText(str(Path(path)))
        self.status.setText(f"{Path(path).name} is the init image; set Strength, then Generate.")

    # -- prompt help (local language model) ------------------------------------------------

    def prompt_help(self, name: str) -> None:
        """Translate or expand the prompt; clicking the running one's button again stops it."""
        if self._helper is not None:
            self._helper.cancel()
            return
        try:
            handle = submit_prompt_help(self.ctx, name, self.prompt.toPlainText())
        except (ValueError, MissingModelError, ModelNotFoundError) as exc:
            self.status.setText(f"{get_prompt_task(name).label}: {exc}")
            return
        self._helper = handle
        self.bridge.watch(handle, self._on_helper_event)
        for key, button in self.help_buttons.items():
            button.setEnabled(key == name)
        self.help_buttons[name].setText("Stop")
        self.status.setText(f"{get_prompt_task(name).label}…")

    def _on_helper_event(self, event: JobEvent) -> None:
        if event.handle is not self._helper:
            return
        if event.kind is EventKind.PARTIAL:
            document = self.prompt.document()
            if self._prompt_before is None:  # the first words: the box shows the reply as it comes
                self._prompt_before = self.prompt.toPlainText()
                document.setUndoRedoEnabled(False)  # the streamed pieces are no undo steps
                self.prompt.setReadOnly(True)  # typing would mix with the streamed words
                self._replace_prompt("")
            cursor = QTextCursor(document)
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(event.payload.text)
        elif event.kind.final:
            result = event.payload if event.kind is EventKind.FINISHED else None
            self._helper_done(result, event)

    def _replace_prompt(self, text: str) -> None:
        cursor = QTextCursor(self.prompt.document())
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)

    def _helper_done(self, result: Optional[PromptHelpResult], event: JobEvent) -> None:
        before, self._prompt_before = self._prompt_before, None
        if before is not None:
            # Back to the user's prompt without an undo step, then the new one as a single step:
            # one Ctrl+Z restores what the user had typed.
            self._replace_prompt(before)
            self.prompt.document().setUndoRedoEnabled(True)
            self.prompt.setReadOnly(False)
            if result is not None and result.prompt:
                self._replace_prompt(result.prompt)
        self._helper = None
        for name, button in self.help_buttons.items():
            button.setEnabled(True)
            button.setText(HELP_BUTTONS[name])
        if result is not None:
            stopped = " (stopped)" if result.stopped else ""
            self.status.setText(f"Prompt from {result.model_id}{stopped}; Ctrl+Z in the prompt restores yours."
                                if result.prompt else f"{result.model_id} gave no prompt; yours is kept.")
        elif event.kind is EventKind.FAILED:
            self.status.setText(f"Prompt help failed: {event.payload}")
        else:
            self.status.setText("Prompt help stopped before it began.")

    # -- describe as prompt (CLIP) ---------------------------------------------------------

    def describe_picture(self, path: Path) -> None:
        """Describe a picture as a prompt in the background; "Use as prompt" then fills the box."""
        try:
            handle = submit_describe(self.ctx, [Path(path)])
        except (ValueError, FileNotFoundError, MissingModelError, ModelNotFoundError) as exc:
            self.status.setText(f"Cannot describe {Path(path).name}: {exc}")
            return
        self._describing = handle
        self._described_path = Path(path)
        self.description = None
        current = lambda: self._describing is handle  # noqa: E731 - a newer picture replaces this one
        self.bridge.watch(
            handle,
            progress=lambda progress: current() and self._describe_progress(progress),
            finished=lambda descriptions: current() and self._described(descriptions),
            failed=lambda error: current() and self.described.setText(f"Could not describe the picture: {error}"),
            cancelled=lambda: current() and self.described.setText("Describing stopped."),
            ended=lambda: self._describe_ended(handle),
        )
        self.described.setText(f"Describing {Path(path).name}…")
        self.use_description_button.setEnabled(False)
        self.described.setToolTip("")
        for widget in self._description_widgets():
            widget.setVisible(True)

    def _description_widgets(self) -> tuple[QWidget, ...]:
        return self.described, self.use_description_button, self.close_description_button

    def clear_description(self) -> None:
        """Put the description away (its job's late answer is dropped too)."""
        self._describing = None
        self._described_path = None
        self.description = None
        self.described.setText("")
        self.described.setToolTip("")
        self.use_description_button.setEnabled(False)
        for widget in self._description_widgets():
            widget.setVisible(False)

    def _description_for(self, path: Optional[Path]) -> None:
        """Keep the description only while its picture is the one chosen."""
        if self._described_path is not None and path != self._described_path:
            self.clear_description()

    def _describe_progress(self, progress: Progress) -> None:
        if progress.message:
            self.described.setText(progress.message.capitalize())

    def _described(self, descriptions: list) -> None:
        self.description = descriptions[0]
        top = ", ".join(f"{p.text} {p.score:.2f}" for p in self.description.top[:4])
        self.described.setText(f"Described: {self.description.prompt}\n(similarity "
                               f"{self.description.similarity:.3f}; top phrases: {top})")
        self.described.setToolTip("\n".join(f"{p.score:.3f}  {p.bank}: {p.text}" for p in self.description.top))
        self.use_description_button.setEnabled(True)

    def _describe_ended(self, handle: JobHandle) -> None:
        if self._describing is handle:
            self._describing = None

    def use_description(self) -> None:
        if self.description is None:
            return
        self._replace_prompt(self.description.prompt)  # one undoable edit
        self.status.setText("The described prompt is in the form; Ctrl+Z in the prompt restores yours.")

    # -- drag and drop ---------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(Path(url.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.suffix.lower() in IMAGE_SUFFIXES:
                event.acceptProposedAction()
                self.take_picture(path)
                return

    def take_picture(self, path: Path) -> None:
        """A picture given to the page (dropped, or opened from the File menu): its settings into
        the form; one that stores none is described as a prompt instead, where a CLIP model is."""
        self._opened_picture = Path(path)  # what Upscale… offers when no result is selected
        if not self.reuse_settings_from(path) and self.ctx.registry.default("clip") is not None:
            self.describe_picture(path)
