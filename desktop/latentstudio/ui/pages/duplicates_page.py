"""The Duplicates page: review exact copies, near-duplicates and similar series, group by group,
side by side with size, resolution and date. In copies the best to keep is pre-selected and the
others are ticked for the system trash (never deleted); in a similar series nothing is ticked, its
pictures differ. Nothing moves until the user confirms a dialog that names the files."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from shiboken6 import isValid

from ...engine import JobHandle
from ...units import counted, format_bytes
from ...library.analysis.duplicates import LEVELS, Group
from ...library.analysis.service import submit_duplicates, trash_pictures
from ...library.analysis.trash import TrashReport
from ...library.thumbnails import existing_thumbnail
from ..background import run_in_background
from .needs_model import NeedsModelPage
from ..widgets.empty_state import EmptyStateList

log = logging.getLogger(__name__)

THUMB = 200
LEVEL_NAMES = {"exact": "Exact copies", "near": "Near-duplicates", "similar": "Similar series"}


NAMED = 5  # files named in the confirmation, the rest counted


def confirm_text(paths: list[str]) -> str:
    """The question before moving: which files, by name (the first few, then how many more)."""
    names = "\n".join(f"  • {Path(p).name}" for p in paths[:NAMED])
    more = f"\n  and {len(paths) - NAMED} more" if len(paths) > NAMED else ""
    return (f"Move {len(paths)} picture(s) to the system trash?\n\n{names}{more}\n\n"
            "They can be restored from the trash.")


class DuplicatesPage(NeedsModelPage):
    kind = "clip"

    def build_content(self) -> QWidget:
        self.groups: list[Group] = []
        self._handle: Optional[JobHandle] = None
        self.checks: list[tuple[QCheckBox, str]] = []
        self.level = QComboBox()
        for level in LEVELS:
            self.level.addItem(LEVEL_NAMES[level], level)
        self.level.setToolTip("Exact: the same file content · near: re-encoded, resized or cropped copies · "
                              "similar: bursts and the same scene")
        self.find_button = QPushButton("Find duplicates")
        self.find_button.setToolTip("Look through the library (only new pictures are compared again)")
        self.status = QLabel("Choose a kind and press Find duplicates.")
        self.status.setObjectName("duplicates-status")
        self.status.setWordWrap(True)
        self.group_list = EmptyStateList()
        self.group_list.setPlaceholderText("Groups of duplicates appear here after Find duplicates.")
        self.group_list.setObjectName("duplicate-groups")
        self.group_list.setToolTip("Groups found; pick one to review it")
        self.members = QWidget()
        self.members_layout = QGridLayout(self.members)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.members)
        self.trash_button = QPushButton("Move ticked pictures to the trash")
        self.trash_button.setToolTip("The pictures go to the system trash, from where they can be restored")
        self.trash_button.setEnabled(False)

        bar = QHBoxLayout()
        bar.addWidget(self.level)
        bar.addWidget(self.find_button)
        bar.addWidget(self.status, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(scroll, 1)
        right_layout.addWidget(self.trash_button, 0, Qt.AlignmentFlag.AlignRight)
        splitter = QSplitter()
        splitter.addWidget(self.group_list)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

        self.show_group(-1)
        self.find_button.clicked.connect(self.find)
        self.group_list.currentRowChanged.connect(self.show_group)
        self.trash_button.clicked.connect(lambda: self.trash_ticked())
        return content

    # -- finding --------------------------------------------------------------------------------

    def find(self) -> None:
        if self._handle is not None and not self._handle.done():
            return
        self.bridge.start_engine()
        level = self.level.currentData()
        try:
            self._handle = submit_duplicates(self.ctx, (level,))
        except Exception as exc:
            log.exception("duplicates failed to start")
            self.status.setText(f"Could not look for duplicates: {exc}")
            return
        self.find_button.setEnabled(False)
        self.status.setText("Looking for duplicates in the background…")
        self.bridge.watch(
            self._handle,
            finished=self.show_groups,
            failed=lambda error: self.status.setText(f"Could not look for duplicates: {error}"),
            cancelled=lambda: self.status.setText("Stopped looking for duplicates."),
            ended=lambda: self.find_button.setEnabled(True),
        )

    def show_groups(self, groups: list[Group]) -> None:
        self.groups = groups
        self.group_list.clear()
        for group in groups:
            item = QListWidgetItem(f"{counted(len(group.members), 'picture')} · {Path(group.keep.row.path).name}")
            item.setToolTip("\n".join(m.row.path for m in group.members))
            self.group_list.addItem(item)
        level = LEVEL_NAMES[self.level.currentData()].lower()
        note = " Different pictures of one scene: nothing is ticked, tick what to move." if (
            self.level.currentData() == "similar") else ""
        self.status.setText(f"{counted(len(groups), 'group')} of {level}.{note}" if groups else f"No {level} found.")
        if groups:
            self.group_list.setCurrentRow(0)
        else:
            self.show_group(-1)

    # -- one group ------------------------------------------------------------------------------

    def show_group(self, row: int) -> None:
        for column in range(self.members_layout.columnCount()):
            self.members_layout.setColumnStretch(column, 0)
        while self.members_layout.count():
            widget = self.members_layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.checks = []
        if not 0 <= row < len(self.groups):
            self.trash_button.setEnabled(False)
            hint = QLabel("Pick a group on the left to see its pictures side by side, the one best to keep "
                          "first; tick those to move to the system trash.")
            hint.setObjectName("duplicates-empty")
            hint.setWordWrap(True)
            hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
            hint.setEnabled(False)  # drawn in the muted colour of a placeholder
            self.members_layout.addWidget(hint, 0, 0)
            return
        group = self.groups[row]
        suggested = {id(m) for m in group.suggested()}
        for column, member in enumerate(group.members):
            r = member.row
            picture = QLabel()
            picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
            picture.setFixedSize(THUMB, THUMB)
            pixmap = QPixmap(str(existing_thumbnail(self.ctx.library.thumbnails, r.hash) or r.path))
            if pixmap.isNull():
                picture.setText("(no preview)")
            else:
                picture.setPixmap(pixmap.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                                Qt.TransformationMode.SmoothTransformation))
            taken = f"taken {datetime.fromtimestamp(r.taken):%Y-%m-%d %H:%M:%S}" if r.taken else "no camera date"
            details = QLabel(f"{Path(r.path).name}\n{r.width or '?'}×{r.height or '?'} · {format_bytes(r.size)}\n"
                             f"{r.format or ''} · {taken}" + ("\nbest to keep" if member.keep else ""))
            details.setWordWrap(True)
            details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            details.setToolTip(r.path)
            details.setFixedWidth(THUMB)
            check = QCheckBox("Move to trash")
            check.setChecked(id(member) in suggested)
            check.setToolTip("Ticked pictures go to the system trash when you press the button below")
            check.toggled.connect(lambda _: self._update_button())
            self.members_layout.addWidget(picture, 0, column)
            self.members_layout.addWidget(details, 1, column)
            self.members_layout.addWidget(check, 2, column)
            self.checks.append((check, r.path))
        self.members_layout.setRowStretch(3, 1)  # pictures at the top, side by side from the left
        self.members_layout.setColumnStretch(len(self.checks), 1)
        self._update_button()

    def _update_button(self) -> None:
        ticked = sum(check.isChecked() for check, _ in self.checks)
        self.trash_button.setEnabled(0 < ticked < len(self.checks))  # one picture of a group always stays
        self.trash_button.setText(f"Move {ticked} ticked picture(s) to the trash")

    def ticked(self) -> list[str]:
        return [path for check, path in self.checks if check.isChecked()]

    def trash_ticked(self, confirm: bool = True) -> None:
        paths = self.ticked()
        if not paths:
            return
        if len(paths) == len(self.checks):
            self.status.setText("Keep at least one picture of the group (untick one).")
            return
        if confirm and QMessageBox.question(self, "Move to trash", confirm_text(paths)) != QMessageBox.StandardButton.Yes:
            return
        # Off the GUI thread: a trash on a network share or a slow disk takes its time per file.
        self.trash_button.setEnabled(False)
        self.status.setText(f"Moving {len(paths)} picture(s) to the trash…")
        ctx, row = self.ctx, self.group_list.currentRow()
        run_in_background(lambda: trash_pictures(ctx, paths), lambda report: self._trashed(report, row),
                          self._trash_failed)

    def _trash_failed(self, exc: BaseException) -> None:
        log.error("moving pictures to the trash failed: %s", exc)
        self.status.setText(f"Could not move the pictures to the trash: {exc}")
        self._update_button()

    def _trashed(self, report: TrashReport, row: int) -> None:
        if not isValid(self.status):  # the window closed while the files moved
            return
        failed = "; ".join(f"{Path(p).name}: {why}" for p, why in report.failed)
        self.status.setText(f"Moved {len(report.moved)} picture(s) to the trash." + (f" Not moved: {failed}" if failed else ""))
        if 0 <= row < len(self.groups):
            group = self.groups[row]
            group.members = [m for m in group.members if m.row.path not in report.moved]
            if len(group.members) < 2:
                del self.groups[row]
                self.group_list.takeItem(row)
            self.show_group(self.group_list.currentRow())
