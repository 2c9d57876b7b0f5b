"""Search filters: folder, date range, file type, rating, minimum size, negative terms, weights, cut-off."""

from __future__ import annotations

from datetime import datetime, time, timezone
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QSlider,
    QSpinBox,
    QWidget,
)

from ...library import SearchFilters
from ...library.scan import LIBRARY_TYPES

FILE_TYPES = (("Any type", ()),) + tuple((kind.label, kind.formats) for kind in LIBRARY_TYPES)
RATINGS = ("Any rating",) + tuple("★" * n + "☆" * (5 - n) + (" or more" if n < 5 else "") for n in range(1, 6))


def _timestamp(date: QDate, end_of_day: bool) -> float:
    moment = datetime.combine(date.toPython(), time.max if end_of_day else time.min)
    return moment.replace(tzinfo=timezone.utc).timestamp()


class SearchFiltersPanel(QWidget):
    changed = Signal()

    def __init__(self, min_score: float, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.negative = QLineEdit()
        self.negative.setPlaceholderText("terms to avoid, comma-separated")
        self.negative.setToolTip("Pictures that look like these words rank lower, e.g. people, text")
        self.folder = QComboBox()
        self.folder.setToolTip("Search one library folder (with its subfolders) or all of them")
        self.use_dates = QCheckBox("Between")
        self.use_dates.setToolTip("Only pictures taken (or, without a date in the file, changed) between these days")
        self.date_from = QDateEdit(QDate.currentDate().addYears(-1))
        self.date_to = QDateEdit(QDate.currentDate())
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.date_from.setToolTip("The first day, included")
        self.date_to.setToolTip("The last day, included")
        self.file_type = QComboBox()
        for label, _ in FILE_TYPES:
            self.file_type.addItem(label)
        self.file_type.setToolTip("Only pictures stored in this format (camera RAW and videos included)")
        self.rating = QComboBox()
        self.rating.addItems(RATINGS)
        self.rating.setToolTip("Only pictures rated this many stars or more in Lightroom, darktable, digiKam, "
                               "Capture One… (XMP ratings, from sidecars or inside the file)")
        self.min_side = QSpinBox()
        self.min_side.setRange(0, 20000)
        self.min_side.setSuffix(" px")
        self.min_side.setSpecialValueText("any size")
        self.min_side.setToolTip("Leave out pictures whose shorter side has fewer pixels (icons, thumbnails)")
        self.min_score = QDoubleSpinBox()
        self.min_score.setRange(-1.0, 1.0)
        self.min_score.setSingleStep(0.01)
        self.min_score.setDecimals(2)
        self.min_score.setValue(min_score)
        self.min_score.setSpecialValueText("no cut-off")  # at -1.00, the lowest: every picture
        self.min_score.setToolTip("Hide results scoring below this cosine similarity (at its lowest, none)")
        self.image_weight = QSlider(Qt.Orientation.Horizontal)
        self.image_weight.setRange(0, 100)
        self.image_weight.setValue(50)
        self.image_weight.setToolTip("Balance between the words (left) and the example image (right)")

        dates = QHBoxLayout()  # under the check box: the side panel stays narrow, no date is cut
        dates.addWidget(self.date_from)
        dates.addWidget(self.date_to)
        form = QFormLayout(self)
        form.addRow("Not", self.negative)
        form.addRow("Folder", self.folder)
        form.addRow("Date", self.use_dates)
        form.addRow("", dates)
        form.addRow("Type", self.file_type)
        form.addRow("Rating", self.rating)
        form.addRow("Shorter side ≥", self.min_side)
        form.addRow("Min. score", self.min_score)
        form.addRow("Words ↔ image", self.image_weight)
        self.set_folders([])

        self.negative.textChanged.connect(self.changed)
        self.folder.currentIndexChanged.connect(self.changed)
        self.use_dates.toggled.connect(self.changed)
        self.date_from.dateChanged.connect(self.changed)
        self.date_to.dateChanged.connect(self.changed)
        self.file_type.currentIndexChanged.connect(self.changed)
        self.rating.currentIndexChanged.connect(self.changed)
        self.min_side.valueChanged.connect(self.changed)
        self.min_score.valueChanged.connect(self.changed)
        self.image_weight.valueChanged.connect(self.changed)

    def set_folders(self, folders: list[Path]) -> None:
        current = self.folder.currentData()
        self.folder.blockSignals(True)
        self.folder.clear()
        self.folder.addItem("All folders", None)
        for folder in folders:
            self.folder.addItem(str(folder), str(folder))
        index = self.folder.findData(current)
        self.folder.setCurrentIndex(max(0, index))
        self.folder.blockSignals(False)

    def filters(self) -> SearchFilters:
        folder = self.folder.currentData()
        return SearchFilters(
            folder=Path(folder) if folder else None,
            date_from=_timestamp(self.date_from.date(), False) if self.use_dates.isChecked() else None,
            date_to=_timestamp(self.date_to.date(), True) if self.use_dates.isChecked() else None,
            file_types=FILE_TYPES[self.file_type.currentIndex()][1],
            min_side=self.min_side.value(),
            min_rating=self.rating.currentIndex(),
        )

    def narrows(self) -> bool:
        """Whether a filter leaves pictures out (a folder, dates, a type, a rating, a size): then an
        empty query lists what passes them."""
        filters = self.filters()
        return bool(filters.folder or filters.date_from is not None or filters.file_types or filters.min_side
                    or filters.min_rating)

    def weights(self) -> tuple[float, float]:
        """(text weight, image weight) when both words and an image are given."""
        image = self.image_weight.value() / 100.0
        return 1.0 - image, image
